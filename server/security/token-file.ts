// The token file (server.auth.tokenFile): who may call the daemon and with
// which grants. Bearer tokens are stored only as the SHA-256 of the token;
// client certificates (mutual TLS) are named by their subject's common name
// or one subjectAltName entry.
//
//   tokens:
//     - name: team-a-ci
//       sha256: 5e88…   # printf %s "$TOKEN" | sha256sum
//       grants:
//         - operations: [read, list]
//           prefixes: ["s3://bucket/team-a/"]
//   clients:
//     - name: worker-a
//       commonName: worker-a.internal   # or subjectAltName: "DNS:worker-a.internal"
//       grants: [...]
//
// Every mistake is reported with the file, line and path, like the config.
import { readFile } from "node:fs/promises";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { ConfigError, type ConfigProblem } from "../config/config-error.js";
import { OPERATIONS, parseGrantPrefix, type Grant, type GrantPrefix, type Operation } from "./grants.js";

export interface TokenEntry {
  name: string;
  /** SHA-256 of the token, 32 bytes. */
  sha256: Buffer;
  grants: Grant[];
}

export interface ClientEntry {
  name: string;
  /** Exactly one of these names the certificate. */
  commonName?: string;
  /** As Node prints it in subjectaltname: "DNS:host", "URI:spiffe://…", "IP Address:10.0.0.1", "email:…". */
  subjectAltName?: string;
  grants: Grant[];
}

export interface TokenFile {
  tokens: TokenEntry[];
  clients: ClientEntry[];
}

/** Reads and validates a token file; throws ConfigError listing every problem. */
export async function loadTokenFile(file: string, configPath = "server.auth.tokenFile"): Promise<TokenFile> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const reason = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new ConfigError([{ path: configPath, message: `cannot read token file ${JSON.stringify(file)} (${reason})` }], { cause: err });
  }
  return parseTokenFile(text, file);
}

export function parseTokenFile(text: string, source: string): TokenFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => ({ source, line: lineCounter.linePos(e.pos[0]).line, path: "YAML", message: e.message })));
  }
  const problem = (path: string, node: Node | undefined, message: string) => {
    const offset = node?.range?.[0];
    problems.push({ source, ...(offset === undefined ? {} : { line: lineCounter.linePos(offset).line }), path, message });
  };
  const fields = (node: Node | undefined, path: string, known: readonly string[]): Map<string, Node> => {
    const out = new Map<string, Node>();
    if (node === undefined) return out;
    if (!isMap(node)) {
      problem(path, node, "must be a map");
      return out;
    }
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      const at = path === "" ? key : `${path}.${key}`;
      if (!known.includes(key))
        problem(at, pair.key as Node, `unknown key; ${path === "" ? "the top level" : path} takes ${known.join(", ")}`);
      else if (pair.value !== null && pair.value !== undefined && !(isScalar(pair.value) && pair.value.value === null))
        out.set(key, pair.value as Node);
    }
    return out;
  };
  const items = (node: Node | undefined, path: string): Array<[Node, string]> => {
    if (node === undefined) return [];
    if (!isSeq(node)) {
      problem(path, node, "must be a list");
      return [];
    }
    return node.items.map((item, i) => [item as Node, `${path}[${i}]`]);
  };
  const string = (node: Node | undefined, path: string, parent: Node | undefined): string | undefined => {
    if (node === undefined) {
      problem(path, parent, "is required");
      return undefined;
    }
    if (!isScalar(node) || typeof node.value !== "string" || node.value === "") {
      problem(path, node, "must be a non-empty string");
      return undefined;
    }
    return node.value;
  };
  const readGrants = (node: Node | undefined, path: string, parent: Node | undefined): Grant[] => {
    if (node === undefined) {
      problem(path, parent, "is required: a list of {operations, prefixes}");
      return [];
    }
    return items(node, path).map(([item, at]) => {
      const f = fields(item, at, ["operations", "prefixes"]);
      const operations = new Set<Operation>();
      for (const [op, opAt] of items(f.get("operations"), `${at}.operations`)) {
        const value = string(op, opAt, item);
        if (value === undefined) continue;
        if ((OPERATIONS as readonly string[]).includes(value)) operations.add(value as Operation);
        else problem(opAt, op, `${JSON.stringify(value)} is not one of ${OPERATIONS.join(", ")}`);
      }
      if (!f.has("operations") || operations.size === 0)
        problem(`${at}.operations`, f.get("operations") ?? item, `needs at least one of ${OPERATIONS.join(", ")}`);
      const prefixes: GrantPrefix[] = [];
      for (const [p, pAt] of items(f.get("prefixes"), `${at}.prefixes`)) {
        const value = string(p, pAt, item);
        if (value === undefined) continue;
        const parsed = parseGrantPrefix(value);
        if (typeof parsed === "string") problem(pAt, p, parsed);
        else prefixes.push(parsed);
      }
      if (!f.has("prefixes") || prefixes.length === 0)
        problem(
          `${at}.prefixes`,
          f.get("prefixes") ?? item,
          'needs at least one reference prefix, e.g. "s3://bucket/team-a/" (or "*" for every reference)',
        );
      return { operations, prefixes };
    });
  };

  const top = fields(doc.contents ?? undefined, "", ["tokens", "clients"]);
  const names = new Map<string, string>();
  const uniqueName = (name: string | undefined, path: string, node: Node | undefined) => {
    if (name === undefined) return;
    const earlier = names.get(name);
    if (earlier !== undefined)
      problem(path, node, `${JSON.stringify(name)} is also the name of ${earlier}; names must be unique so denials and logs say who`);
    else names.set(name, path);
  };

  const tokens: TokenEntry[] = [];
  const hashes = new Map<string, string>();
  for (const [item, at] of items(top.get("tokens"), "tokens")) {
    const f = fields(item, at, ["name", "sha256", "grants"]);
    const name = string(f.get("name"), `${at}.name`, item);
    uniqueName(name, `${at}.name`, f.get("name"));
    const hex = string(f.get("sha256"), `${at}.sha256`, item)?.toLowerCase();
    if (hex !== undefined && !/^[0-9a-f]{64}$/.test(hex)) {
      problem(
        `${at}.sha256`,
        f.get("sha256"),
        'must be the 64 hex digits of the token\'s SHA-256 (printf %s "$TOKEN" | sha256sum), not the token itself',
      );
    } else if (hex !== undefined && hashes.has(hex)) {
      problem(`${at}.sha256`, f.get("sha256"), `the same token is already listed at ${hashes.get(hex)}`);
    } else if (hex !== undefined) hashes.set(hex, at);
    const grants = readGrants(f.get("grants"), `${at}.grants`, item);
    if (name !== undefined && hex !== undefined) tokens.push({ name, sha256: Buffer.from(hex, "hex"), grants });
  }

  const clients: ClientEntry[] = [];
  for (const [item, at] of items(top.get("clients"), "clients")) {
    const f = fields(item, at, ["name", "commonName", "subjectAltName", "grants"]);
    const name = string(f.get("name"), `${at}.name`, item);
    uniqueName(name, `${at}.name`, f.get("name"));
    const commonName = f.has("commonName") ? string(f.get("commonName"), `${at}.commonName`, item) : undefined;
    const subjectAltName = f.has("subjectAltName") ? string(f.get("subjectAltName"), `${at}.subjectAltName`, item) : undefined;
    if (f.has("commonName") === f.has("subjectAltName")) {
      problem(at, item, 'give exactly one of commonName (the certificate subject\'s CN) or subjectAltName (e.g. "DNS:worker.internal")');
    }
    const grants = readGrants(f.get("grants"), `${at}.grants`, item);
    if (name !== undefined) {
      clients.push({
        name,
        grants,
        ...(commonName === undefined ? {} : { commonName }),
        ...(subjectAltName === undefined ? {} : { subjectAltName }),
      });
    }
  }
  if (problems.length === 0 && tokens.length === 0 && clients.length === 0) {
    problems.push({ source, path: "tokens", message: "the token file lists no tokens and no clients; every call would be refused" });
  }
  if (problems.length > 0) throw new ConfigError([...problems].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity)));
  return { tokens, clients };
}
