// server.signedUrls: the keys the daemon signs file://, mem:// and redis://
// URLs with, and the base URL they start with (server/signed-urls/ serves
// them). Keys come inline (`keys:`) or from a file with the same `keys:`
// list (`keyFile:`, re-read on SIGHUP), which keeps secrets out of the main
// config. The first key signs and every listed key verifies, so a key is
// rotated by listing the new one first and removing the old one once the
// URLs it signed have expired. No message here ever shows a secret.
import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import type { ServerConfig, SignedUrlConfig, SigningKey } from "./config.js";
import { ConfigError } from "./config-error.js";
import { hostOfAddress, isWildcardHost } from "./loopback.js";
import { stringKind, type ValueKind } from "./value-kinds.js";
import { MapReader, type ReadContext } from "./yaml-reader.js";

/** HMAC-SHA256 keys shorter than its block's half are guessable; 32 bytes is what `openssl rand -base64 32` gives. */
export const MIN_SECRET_BYTES = 32;

const HOW_TO_MAKE = "e.g. the output of `openssl rand -base64 32`";

/** Key ids travel in URLs: short and URL-safe. */
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Any scalar, kept as written: a secret is never shown back in a "… is not …" message. */
const secretKind: ValueKind<string> = { expected: "a secret", parse: (value, text) => (typeof value === "string" ? value : text) };

/** server.signedUrls, when given: keys or keyFile (one of them), and baseUrl. */
export function readSignedUrlsSection(r: MapReader, given: boolean): SignedUrlConfig | undefined {
  const keys = readSigningKeys(r);
  const keyFile = r.optional("keyFile", stringKind);
  const baseUrl = r.optional("baseUrl", stringKind);
  r.finish();
  if (!given) return undefined;
  if (keys.length === 0 && keyFile === undefined) {
    r.problem(
      undefined,
      `needs keys (a list of {id, secret}) or keyFile (a YAML file with that list); a secret is at least ${MIN_SECRET_BYTES} bytes, ${HOW_TO_MAKE}; remove server.signedUrls to sign no URLs`,
    );
    return undefined;
  }
  if (keys.length > 0 && keyFile !== undefined) {
    r.problem("keyFile", "give keys or keyFile, not both: the keys of one daemon live in one place");
    return undefined;
  }
  const base = baseUrl === undefined ? undefined : normalizedBaseUrl(baseUrl);
  if (typeof base === "object") {
    r.problem("baseUrl", base.problem);
    return undefined;
  }
  return { keys, ...(keyFile === undefined ? {} : { keyFile }), ...(base === undefined ? {} : { baseUrl: base }) };
}

/** `keys:` of a map (server.signedUrls or a key file): each {id, secret}, ids unique, secrets long enough. */
function readSigningKeys(r: MapReader): SigningKey[] {
  const keys: SigningKey[] = [];
  const ids = new Map<string, string>();
  for (const item of r.sectionList("keys")) {
    const id = item.optional("id", stringKind);
    const secret = item.optional("secret", secretKind);
    item.finish();
    if (id === undefined)
      item.problem(item.has("id") ? "id" : undefined, 'needs id: a short name for the key, e.g. "2026-12", sent in every URL it signs');
    else if (!KEY_ID.test(id))
      item.problem("id", `${JSON.stringify(id)} is not 1-64 letters, digits, ".", "_" or "-" (it is sent in URLs)`);
    else if (ids.has(id))
      item.problem(
        "id",
        `${JSON.stringify(id)} is also the id of ${ids.get(id)}; ids must be unique, or a URL could not say which key signed it`,
      );
    else ids.set(id, item.path);
    if (secret === undefined)
      item.problem(item.has("secret") ? "secret" : undefined, `needs secret: at least ${MIN_SECRET_BYTES} bytes, ${HOW_TO_MAKE}`);
    else if (Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES)
      item.problem(
        "secret",
        `is ${Buffer.byteLength(secret, "utf8")} bytes; a signing secret needs at least ${MIN_SECRET_BYTES}, ${HOW_TO_MAKE}`,
      );
    if (id !== undefined && secret !== undefined) keys.push({ id, secret });
  }
  return keys;
}

/** The base URL without a trailing "/", or why it cannot be one. */
function normalizedBaseUrl(text: string): string | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return {
      problem: `${JSON.stringify(text)} is not a URL; give the address clients reach the HTTP port at, e.g. https://stowd.example:8081`,
    };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { problem: `${JSON.stringify(text)} is not an http or https URL` };
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "")
    return { problem: `${JSON.stringify(text)} must be scheme://host[:port][/path], without user, query or fragment` };
  return url.href.replace(/\/+$/, "");
}

/** Reads a key file (server.signedUrls.keyFile): `keys:` as in the config; throws ConfigError naming file:line. */
export async function loadSigningKeyFile(file: string): Promise<SigningKey[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const reason = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new ConfigError([{ path: "server.signedUrls.keyFile", message: `cannot read key file ${JSON.stringify(file)} (${reason})` }], {
      cause: err,
    });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // YAML's own messages may quote the text around the error, which may be a secret.
    throw new ConfigError(
      doc.errors.map((e) => ({ source: file, line: lineCounter.linePos(e.pos[0]).line, path: "YAML", message: e.code })),
    );
  }
  const ctx: ReadContext = { source: file, doc, lineCounter, problems: [], lines: new Map() };
  const root = new MapReader(ctx, "", doc.contents ?? undefined);
  const keys = readSigningKeys(root);
  root.finish();
  if (ctx.problems.length === 0 && keys.length === 0)
    ctx.problems.push({ source: file, path: "keys", message: `lists no keys; add at least one {id, secret} (${HOW_TO_MAKE})` });
  if (ctx.problems.length > 0) throw new ConfigError([...ctx.problems].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity)));
  return keys;
}

/**
 * Without baseUrl the URLs name the HTTP listener's own address, which must
 * then be one a client can dial: a wildcard bind (0.0.0.0, ::) is not.
 */
export function signedUrlBaseProblem(server: ServerConfig): string | undefined {
  if (server.signedUrls === undefined || server.signedUrls.baseUrl !== undefined) return undefined;
  if (!isWildcardHost(hostOfAddress(server.httpAddress))) return undefined;
  return `server.httpAddress ${server.httpAddress} listens on every address, so signed URLs cannot name the one clients reach: set server.signedUrls.baseUrl (e.g. https://stowd.example:8081)`;
}
