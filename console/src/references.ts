// Reference arithmetic the console needs for display and navigation, on the
// canonical references the daemon returns (`scheme://container/key`, a
// listing prefix ending in "/"). Nothing here validates a reference: the
// daemon does that and its errors are shown as they come.

export interface Crumb {
  label: string;
  /** The prefix to list. */
  reference: string;
}

/** `scheme://` of a reference (lower-cased), or "" when it has none. */
export function schemeOf(reference: string): string {
  const at = reference.indexOf("://");
  return at < 0 ? "" : reference.slice(0, at).toLowerCase();
}

/** The part after `scheme://`. */
function pathOf(reference: string): string {
  const at = reference.indexOf("://");
  return at < 0 ? reference : reference.slice(at + 3);
}

/** A prefix to list: the reference with one trailing "/" (`mem://b` → `mem://b/`). */
export function asPrefix(reference: string): string {
  return reference.endsWith("/") ? reference : `${reference}/`;
}

/** Whether the reference names only a scheme (`mem://`): its containers, not a listing. */
export function isSchemeRoot(reference: string): boolean {
  return pathOf(reference).replace(/\/+$/, "") === "";
}

/** The container and each "directory" of a prefix, each with the prefix that lists it. */
export function breadcrumbs(prefix: string): Crumb[] {
  const scheme = prefix.slice(0, prefix.length - pathOf(prefix).length);
  const parts = pathOf(prefix)
    .split("/")
    .filter((p) => p !== "");
  return parts.map((part, i) => ({ label: displayName(part), reference: `${scheme}${parts.slice(0, i + 1).join("/")}/` }));
}

/** The prefix one level up (`mem://b/x/` → `mem://b/`, `mem://b/x/f` → `mem://b/x/`), or undefined at a container. */
export function parentPrefix(reference: string): string | undefined {
  const trimmed = reference.replace(/\/+$/, "");
  const path = pathOf(trimmed);
  const slash = path.lastIndexOf("/");
  if (slash < 0) return undefined;
  return trimmed.slice(0, trimmed.length - path.length + slash + 1);
}

/** An entry's name inside the listed prefix: `mem://b/x/f.txt` under `mem://b/x/` → `f.txt`, a sub-prefix keeps its "/". */
export function nameInPrefix(reference: string, prefix: string): string {
  const name = reference.startsWith(prefix) ? reference.slice(prefix.length) : (reference.split("/").filter(Boolean).pop() ?? reference);
  return displayName(name);
}

/** The last path segment, e.g. for a download's file name. */
export function lastSegment(reference: string): string {
  return displayName(pathOf(reference).replace(/\/+$/, "").split("/").pop() ?? "");
}

/** Percent-escapes of a key decoded for reading; left as they are when they do not decode. */
export function displayName(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The reference for a file uploaded into `prefix`: its name percent-encoded as one key segment. */
export function childReference(prefix: string, fileName: string): string {
  return `${asPrefix(prefix)}${encodeURIComponent(fileName)}`;
}
