// Which side of a transfer an argument names: a stowd reference
// (`scheme://container/key`, served by the daemon), a local path, or `-`
// (stdin / stdout). `file://...` is the daemon's local-disk store, never a
// path on this machine.
import { basename } from "node:path";
import { UsageError } from "./usage-error.js";

export type Location = { kind: "remote"; reference: string } | { kind: "local"; path: string } | { kind: "stdio" };

const referencePattern = /^[a-z][a-z0-9+.-]*:\/\//i;

export function isReference(argument: string): boolean {
  return referencePattern.test(argument);
}

export function locationOf(argument: string): Location {
  if (argument === "-") return { kind: "stdio" };
  if (isReference(argument)) return { kind: "remote", reference: argument };
  return { kind: "local", path: argument };
}

/** Demands a reference; `what` names the argument in the message. */
export function requireReference(argument: string, what: string): string {
  if (!isReference(argument)) {
    throw new UsageError(`${what} must be a stowd reference such as mem://bucket/key, got ${JSON.stringify(argument)}`);
  }
  return argument;
}

/** The last segment of a reference's key: what a download is named by default. */
export function referenceBasename(reference: string): string {
  const afterScheme = reference.replace(referencePattern, "");
  const slash = afterScheme.indexOf("/");
  const key = slash < 0 ? "" : afterScheme.slice(slash + 1);
  const name = key.slice(key.lastIndexOf("/") + 1);
  if (name === "" || name === "." || name === "..") {
    throw new UsageError(`${reference} names no object (its key ends with "/" or is empty); give the destination's file name`);
  }
  return name;
}

/** A destination reference ending with "/" gets the source's name appended, as cp does with a directory. */
export function destinationReference(destination: string, sourceName: () => string): string {
  return destination.endsWith("/") ? `${destination}${sourceName()}` : destination;
}

export function localBasename(path: string): string {
  return basename(path);
}
