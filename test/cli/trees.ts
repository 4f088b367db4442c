// Local directory trees and remote prefixes as the bulk tests compare them:
// relative name -> SHA-256 of the content. Digests, not Buffers: vitest's
// toEqual walks a Buffer byte by byte (about 4 s per MiB) and a failing one
// diffs every byte, which looks like a hang.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { StowdClient } from "../../client/index.js";

/** Relative path -> content. */
export type Tree = Record<string, Buffer>;
/** Relative path -> SHA-256 hex. */
export type Digests = Record<string, string>;

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

export function digestsOf(tree: Tree): Digests {
  return Object.fromEntries(Object.entries(tree).map(([name, content]) => [name, sha256(content)]));
}

export async function writeTree(root: string, tree: Tree): Promise<void> {
  for (const [relative, content] of Object.entries(tree)) {
    await mkdir(join(root, relative, ".."), { recursive: true });
    await writeFile(join(root, relative), content);
  }
}

/** Every file under root (temp files included, so a leftover shows). */
export async function localDigests(root: string): Promise<Digests> {
  const digests: Digests = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile()) digests[path.slice(root.length + 1)] = sha256(await readFile(path));
  }
  return digests;
}

/** Every object under prefix, key relative to it. */
export async function remoteDigests(client: StowdClient, prefix: string): Promise<Digests> {
  const digests: Digests = {};
  for await (const entry of client.list(prefix)) {
    if (entry.kind === "object") digests[entry.info.reference.slice(prefix.length)] = sha256(await client.readBytes(entry.info.reference));
  }
  return digests;
}

/** The names in `part` whose content is not the one `whole` has for them: partial or foreign files. */
export function entriesNotIn(part: Digests, whole: Digests): string[] {
  const wrong = Object.entries(part).filter(([name, digest]) => whole[name] !== digest);
  return wrong.map(([name]) => name);
}
