// References: `scheme://container/key` URLs, parsed and built exactly like
// Flyte's DataReference.Split and ConstructReference (Go net/url), except that
// stowd rejects what Flyte silently mangles: no scheme, `?` or `#`, `.` / `..`
// segments, control characters, bad escapes and invalid UTF-8.
import { StowdError } from "../../common/errors.js";

/** A parsed reference. */
export interface Ref {
  /** Lower-cased scheme, e.g. "s3". */
  scheme: string;
  /** Bucket / container / Redis host; may be "" (`file:///x`). */
  container: string;
  /** Decoded key without leading or trailing `/` (for listings: a raw prefix). */
  key: string;
  /**
   * The authority to print when formatting references on this container:
   * the host, or `container@host` for abfs/abfss. Credentials of other
   * schemes (`s3://key:secret@bucket`) are never kept.
   */
  authority: string;
}

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
// Characters Go's url parser accepts unescaped in a host (RFC 3986 reg-name,
// sub-delims and the port colon); `%` escapes in hosts are refused outright.
const HOST = /^[A-Za-z0-9\-._~!$&'()*+,;=:]*$|^\[[0-9A-Fa-f:.]+\](:[0-9]*)?$/;
const USERINFO = /^[A-Za-z0-9\-._~!$&'()*+,;=:%]*$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function invalid(reference: string, why: string, field = "reference"): StowdError {
  return new StowdError("INVALID_REFERENCE", `invalid reference ${JSON.stringify(reference)}: ${why}`, {
    reference,
    field,
  });
}

function hasControlCharacter(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(s);
}

/** Percent-decodes like Go's unescape(s, encodePath); throws on a bad escape. */
function percentDecode(s: string, onError: (why: string) => StowdError): string {
  if (!s.includes("%")) return s;
  const bytes: number[] = [];
  const raw = Buffer.from(s, "utf8");
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b !== 0x25) {
      bytes.push(b);
      continue;
    }
    const hex = raw.subarray(i + 1, i + 3).toString("latin1");
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
      throw onError(`invalid URL escape ${JSON.stringify("%" + hex.replace(/[^ -~].*/s, ""))}`);
    }
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw onError("percent-escapes do not decode to valid UTF-8");
  }
}

/** Rejects `.`/`..` segments and control characters in a decoded key. */
function checkKeySegments(key: string, onError: (why: string) => StowdError): void {
  if (hasControlCharacter(key)) throw onError("the key contains a control character");
  for (const segment of key.split("/")) {
    if (segment === "." || segment === "..") {
      throw onError(`"${segment}" path segments are not allowed; name the object directly`);
    }
  }
}

interface UrlParts {
  scheme: string;
  userinfo: string | undefined;
  host: string;
  /** The path as written (still escaped). */
  rawPath: string;
  /** The decoded path. */
  path: string;
}

/** Parses the `scheme://[userinfo@]host/path` form; everything else is rejected. */
function parseUrl(reference: string, field: string): UrlParts {
  const fail = (why: string) => invalid(reference, why, field);
  if (reference === "") throw fail("it is empty; expected scheme://container/key");
  if (hasControlCharacter(reference)) throw fail("it contains a control character");
  if (reference.includes("#")) throw fail("fragments (#) are not allowed; percent-encode '#' in keys as %23");
  if (reference.includes("?")) throw fail("queries (?) are not allowed; percent-encode '?' in keys as %3F");
  const colon = reference.indexOf(":");
  if (colon === 0) throw fail("missing protocol scheme");
  const scheme = colon > 0 ? reference.slice(0, colon) : "";
  if (colon < 0 || !SCHEME.test(scheme) || !reference.startsWith("//", colon + 1)) {
    throw fail("expected scheme://container/key, e.g. s3://bucket/path/to/object");
  }
  const rest = reference.slice(colon + 3);
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const rawPath = slash < 0 ? "" : rest.slice(slash);
  const at = authority.lastIndexOf("@");
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const host = authority.slice(at + 1);
  if (userinfo !== undefined && !USERINFO.test(userinfo)) throw fail("invalid character in the user part");
  if (!HOST.test(host)) throw fail(`invalid character in container (host) ${JSON.stringify(host)}`);
  const port = host.startsWith("[") ? /\](:.*)?$/.exec(host)?.[1] : /:[^:]*$/.exec(host)?.[0];
  if (port !== undefined && !/^:[0-9]*$/.test(port)) throw fail(`invalid port ${JSON.stringify(port)} after host`);
  const path = percentDecode(rawPath, fail);
  return { scheme: scheme.toLowerCase(), userinfo, host, rawPath, path };
}

function isAzure(scheme: string): boolean {
  return scheme === "abfs" || scheme === "abfss";
}

/** Splits a reference like Flyte's DataReference.Split, with stowd's rejections. */
export function parseReference(reference: string, field = "reference"): Ref {
  const url = parseUrl(reference, field);
  const fail = (why: string) => invalid(reference, why, field);
  let container = url.host;
  let authority = url.host;
  if (isAzure(url.scheme) && url.userinfo) {
    const user = url.userinfo.split(":")[0] ?? "";
    const name = percentDecode(user, fail);
    if (name !== "") {
      container = name;
      authority = `${user}@${url.host}`;
    }
  }
  const key = trimSlashes(url.path);
  checkKeySegments(key, fail);
  return { scheme: url.scheme, container, key, authority };
}

/**
 * Parses a reference used as a listing prefix: like parseReference, but a
 * trailing `/` is kept so that `s3://b/dir/` lists `dir/x` and not `dirx`.
 */
export function parsePrefixReference(reference: string, field = "reference"): Ref {
  const ref = parseReference(reference, field);
  if (ref.key !== "" && reference.endsWith("/")) ref.key += "/";
  return ref;
}

function trimSlashes(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s[start] === "/") start++;
  while (end > start && s[end - 1] === "/") end--;
  return s.slice(start, end);
}

// Go's shouldEscape(c, encodePath): unreserved characters and `$&+,/:;=@`
// stay as they are; everything else is %XX-encoded byte by byte.
const PATH_SAFE = /[A-Za-z0-9\-_.~$&+,/:;=@]/;

/** Escapes a decoded path the way Go's url.URL.EscapedPath does by default. */
export function escapePath(path: string): string {
  let out = "";
  for (const ch of path) {
    if (PATH_SAFE.test(ch)) {
      out += ch;
    } else {
      for (const b of Buffer.from(ch, "utf8")) out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
    }
  }
  return out;
}

// Go's validEncoded(s, encodePath): may `raw` be printed as it was written?
function isValidEncodedPath(raw: string): boolean {
  return /^[A-Za-z0-9\-_.~$&+,/:;=@!'()*[\]%]*$/.test(raw);
}

/** Go's EscapedPath: the path as written when that is a valid encoding, else re-escaped. */
function escapedPath(rawPath: string, path: string): string {
  return isValidEncodedPath(rawPath) ? rawPath : escapePath(path);
}

/** Formats the reference of `key` on the container of `container`. Round-trips through parseReference. */
export function formatReference(container: Pick<Ref, "scheme" | "authority">, key: string): string {
  return `${container.scheme}://${container.authority}/${escapePath(key)}`;
}

/**
 * Joins nested keys onto a base like Flyte's ConstructReference (Go
 * `base/ + ResolveReference(strings.Join(trimmed keys, "/"))`), rejecting
 * dot segments, `?`, `#`, a colon in the first segment of the first key
 * (Flyte would replace the whole reference) and bad escapes.
 */
export function constructReference(baseReference: string, nestedKeys: readonly string[]): string {
  const base = parseUrl(baseReference, "base_reference");
  const baseFail = (why: string) => invalid(baseReference, why, "base_reference");
  checkKeySegments(trimSlashes(base.path), baseFail);

  const joined = nestedKeys.map(trimSlashes).join("/");
  const keyFail = (why: string) =>
    new StowdError("INVALID_ARGUMENT", `invalid nested key ${JSON.stringify(joined)}: ${why}`, {
      reference: baseReference,
      field: "nested_keys",
    });
  if (hasControlCharacter(joined)) throw keyFail("it contains a control character");
  if (joined.includes("?") || joined.includes("#")) {
    throw keyFail("'?' and '#' are not allowed in keys; percent-encode them as %3F and %23");
  }
  const firstSegment = joined.split("/")[0] ?? "";
  if (firstSegment.includes(":")) {
    throw keyFail("the first segment of the first key cannot contain ':' (it would be read as a URL scheme)");
  }
  const relPath = percentDecode(joined, keyFail);
  checkKeySegments(relPath, keyFail);

  let basePath = escapedPath(base.rawPath, base.path);
  if (!basePath.endsWith("/")) basePath += "/";
  const path = basePath + escapedPath(joined, relPath);
  const userinfo = base.userinfo === undefined ? "" : `${base.userinfo}@`;
  return `${base.scheme}://${userinfo}${base.host}${path}`;
}
