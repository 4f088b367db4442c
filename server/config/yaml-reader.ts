// Reads the mappings of a parsed YAML config file the way Flyte's Viper does
// (keys match case-insensitively) while keeping each key's line, so every
// problem can say file:line and the full key path. Problems are collected,
// not thrown, so all of a file's mistakes are reported in one go. Maps whose
// keys are data (stow.config, headers, schemes) keep their keys verbatim.
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair, type YAMLMap } from "yaml";
import type { ConfigProblem } from "./config-error.js";
import { showValue, stringKind, type ValueKind } from "./value-kinds.js";

export interface ReadContext {
  /** The file as shown in messages. */
  source: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  problems: ConfigProblem[];
  /** Full key path → line of the key, for checks that run after reading. */
  lines: Map<string, number>;
}

interface Entry {
  key: string;
  keyNode: Node;
  /** undefined when the value is null / empty, which counts as not given. */
  value: Node | undefined;
}

type ScalarValue = string | number | boolean;

export class MapReader {
  private readonly entries = new Map<string, Entry>();
  private readonly used = new Set<string>();
  private readonly known: string[] = [];

  /** `node` undefined = the section is absent (every key takes its default). */
  constructor(
    readonly ctx: ReadContext,
    readonly path: string,
    node: Node | undefined,
  ) {
    const map = resolve(ctx, node);
    if (map === undefined) return;
    if (!isMap(map)) {
      this.problemAt(path === "" ? "(top level)" : path, map, `${describe(map)} is not a map of keys`);
      return;
    }
    for (const pair of mergedPairs(ctx, map)) {
      const keyNode = resolve(ctx, pair.key as Node | null);
      if (keyNode === undefined || !isScalar(keyNode) || !isScalarValue(keyNode.value)) {
        this.problemAt(path === "" ? "(top level)" : path, keyNode ?? map, "keys must be plain names");
        continue;
      }
      const key = String(keyNode.value);
      const lower = key.toLowerCase();
      const earlier = this.entries.get(lower);
      if (earlier !== undefined) {
        // YAML itself only rejects exact duplicates; Viper would silently keep one of these.
        this.problemAt(
          this.child(key),
          keyNode,
          `given twice (also as "${earlier.key}" on line ${this.lineOf(earlier.keyNode)}); keys are case-insensitive`,
        );
        continue;
      }
      this.entries.set(lower, { key, keyNode, value: resolve(ctx, pair.value as Node | null) });
    }
  }

  /** Whether the key is given with a non-null value. */
  has(key: string): boolean {
    return this.entries.get(key.toLowerCase())?.value !== undefined;
  }

  /** The child mapping at `key` (absent → an empty reader). */
  section(key: string): MapReader {
    return new MapReader(this.ctx, this.child(key), this.take(key)?.value);
  }

  /** A scalar of the given kind, or `fallback` when the key is absent or wrong (wrong is recorded). */
  scalar<T>(key: string, kind: ValueKind<T>, fallback: T): T {
    const entry = this.take(key);
    if (entry?.value === undefined) return fallback;
    const scalar = this.scalarOf(this.child(key), entry.value, kind);
    return scalar === undefined ? fallback : scalar;
  }

  /** Like scalar, but undefined when the key is absent or its value is wrong (wrong is recorded). */
  optional<T>(key: string, kind: ValueKind<T>): T | undefined {
    const entry = this.take(key);
    return entry?.value === undefined ? undefined : this.scalarOf(this.child(key), entry.value, kind);
  }

  /** A map with verbatim string keys; values are scalars kept as written. Also accepts Flyte's list-of-maps form. */
  stringMap(key: string, fallback: Record<string, string>): Record<string, string> {
    const entry = this.take(key);
    if (entry?.value === undefined) return fallback;
    const out: Record<string, string> = {};
    const path = this.child(key);
    for (const [k, keyNode, value] of this.dataEntries(path, entry.value)) {
      const s = value === undefined ? "" : this.scalarOf(`${path}.${k}`, value, stringKind);
      if (s !== undefined) out[k] = s;
      this.ctx.lines.set(`${path}.${k}`, this.lineOf(keyNode) ?? 0);
    }
    return out;
  }

  /** Flyte's `map[string][]string` (HTTP headers): each value a string or a list of strings. */
  stringListMap(key: string): Record<string, string[]> {
    const entry = this.take(key);
    if (entry?.value === undefined) return {};
    const out: Record<string, string[]> = {};
    const path = this.child(key);
    for (const [k, , value] of this.dataEntries(path, entry.value)) {
      out[k] = value === undefined ? [] : this.listOf(`${path}.${k}`, value, stringKind, false);
    }
    return out;
  }

  /** A list of scalars; a single string is split on commas, like Flyte's StringToSliceHookFunc(","). */
  list<T>(key: string, kind: ValueKind<T>): T[] {
    const entry = this.take(key);
    return entry?.value === undefined ? [] : this.listOf(this.child(key), entry.value, kind, true);
  }

  /** A list of maps (e.g. server.signedUrls.keys), each as a reader at `key[i]`. */
  sectionList(key: string): MapReader[] {
    const entry = this.take(key);
    if (entry?.value === undefined) return [];
    const path = this.child(key);
    if (!isSeq(entry.value)) {
      this.problemAt(path, entry.value, `${describe(entry.value)} is not a list of maps`);
      return [];
    }
    return entry.value.items.map((item, i) => {
      const node = resolve(this.ctx, item as Node | null);
      this.ctx.lines.set(`${path}[${i}]`, this.lineOf(node ?? entry.value) ?? 0);
      return new MapReader(this.ctx, `${path}[${i}]`, node);
    });
  }

  /** The entries of a map whose keys are names chosen by the user (e.g. schemes), each as a reader. */
  children(key: string): Array<{ key: string; reader: MapReader }> {
    const entry = this.take(key);
    if (entry?.value === undefined) return [];
    const path = this.child(key);
    return this.dataEntries(path, entry.value).map(([k, keyNode, value]) => {
      this.ctx.lines.set(`${path}.${k}`, this.lineOf(keyNode) ?? 0);
      return { key: k, reader: new MapReader(this.ctx, `${path}.${k}`, value) };
    });
  }

  /** Records a problem for `key` (or this section when key is undefined) at the key's line. */
  problem(key: string | undefined, message: string): void {
    const entry = key === undefined ? undefined : this.entries.get(key.toLowerCase());
    const path = key === undefined ? this.path : this.child(key);
    this.ctx.problems.push({
      source: this.ctx.source,
      ...lineField(entry === undefined ? this.ctx.lines.get(path) : this.lineOf(entry.keyNode)),
      path,
      message,
    });
  }

  /** Reports every key not read, suggesting the closest known key. `hint` explains keys read elsewhere or unused here. */
  finish(hint?: (key: string) => string | undefined): void {
    for (const [lower, entry] of this.entries) {
      if (this.used.has(lower)) continue;
      const specific = hint?.(entry.key);
      const suggestion = closest(entry.key, this.known);
      const accepts =
        this.known.length === 0 ? "it takes no keys" : `${this.path === "" ? "the top level" : this.path} accepts ${this.known.join(", ")}`;
      const message = specific ?? `unknown key${suggestion === undefined ? "" : ` (did you mean ${suggestion}?)`}; ${accepts}`;
      this.problemAt(this.child(entry.key), entry.keyNode, message);
    }
  }

  /** Keys given but not read so far (as written). */
  unread(): string[] {
    return [...this.entries].filter(([lower]) => !this.used.has(lower)).map(([, e]) => e.key);
  }

  /** The full path of a key of this mapping. */
  child(key: string): string {
    return this.path === "" ? key : `${this.path}.${key}`;
  }

  private take(key: string): Entry | undefined {
    const lower = key.toLowerCase();
    if (!this.known.includes(key)) this.known.push(key);
    this.used.add(lower);
    const entry = this.entries.get(lower);
    if (entry !== undefined) this.ctx.lines.set(this.child(key), this.lineOf(entry.keyNode) ?? 0);
    return entry;
  }

  private scalarOf<T>(path: string, node: Node, kind: ValueKind<T>): T | undefined {
    if (!isScalar(node) || !isScalarValue(node.value)) {
      this.problemAt(path, node, `${describe(node)} is not ${kind.expected}`);
      return undefined;
    }
    const text = node.source ?? String(node.value);
    const parsed = kind.parse(node.value, text);
    if (parsed === undefined) this.problemAt(path, node, `${showValue(node.value, text)} is not ${kind.expected}`);
    return parsed;
  }

  private listOf<T>(path: string, node: Node, kind: ValueKind<T>, splitCommas: boolean): T[] {
    if (isSeq(node)) {
      const out: T[] = [];
      node.items.forEach((item, i) => {
        const resolved = resolve(this.ctx, item as Node | null);
        const value = resolved === undefined ? undefined : this.scalarOf(`${path}[${i}]`, resolved, kind);
        if (value !== undefined) out.push(value);
        else if (resolved === undefined) this.problemAt(`${path}[${i}]`, node, `an empty item is not ${kind.expected}`);
      });
      return out;
    }
    if (isScalar(node) && typeof node.value === "string") {
      const parts = splitCommas
        ? node.value
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s !== "")
        : [node.value];
      const out: T[] = [];
      for (const part of parts) {
        const value = kind.parse(part, part);
        if (value === undefined) this.problemAt(path, node, `${JSON.stringify(part)} is not ${kind.expected}`);
        else out.push(value);
      }
      return out;
    }
    this.problemAt(path, node, `${describe(node)} is not a list (of ${kind.expected})`);
    return [];
  }

  /** Entries of a data map (keys verbatim); a list of maps is merged, as Flyte's sliceToMapHook does. */
  private dataEntries(path: string, node: Node): Array<[string, Node, Node | undefined]> {
    const maps = isSeq(node) ? node.items.map((item) => resolve(this.ctx, item as Node | null)) : [node];
    const out: Array<[string, Node, Node | undefined]> = [];
    for (const map of maps) {
      if (map === undefined || !isMap(map)) {
        this.problemAt(path, map ?? node, `${map === undefined ? "an empty item" : describe(map)} is not a map`);
        continue;
      }
      for (const pair of mergedPairs(this.ctx, map)) {
        const keyNode = resolve(this.ctx, pair.key as Node | null);
        if (keyNode === undefined || !isScalar(keyNode) || !isScalarValue(keyNode.value)) {
          this.problemAt(path, keyNode ?? map, "keys must be plain names");
          continue;
        }
        out.push([String(keyNode.value), keyNode, resolve(this.ctx, pair.value as Node | null)]);
      }
    }
    return out;
  }

  private problemAt(path: string, node: Node | undefined, message: string): void {
    this.ctx.problems.push({ source: this.ctx.source, ...lineField(this.lineOf(node)), path, message });
  }

  private lineOf(node: Node | undefined): number | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.ctx.lineCounter.linePos(offset).line;
  }
}

/**
 * A map's pairs with YAML merge keys (`<<: *anchor`, as go-yaml and so Viper
 * support them) expanded: the merged map's pairs are added unless the map
 * itself gives the key, which wins wherever it appears.
 */
function mergedPairs(ctx: ReadContext, map: YAMLMap, seen = new Set<YAMLMap>()): Pair[] {
  if (seen.has(map)) return []; // `&a {<<: *a}` merges nothing new
  seen.add(map);
  const isMerge = (pair: Pair) =>
    isScalar(pair.key) && pair.key.value === "<<" && pair.key.source !== undefined && pair.key.type === "PLAIN";
  const own = map.items.filter((pair) => !isMerge(pair));
  const given = new Set(own.map((pair) => (isScalar(pair.key) ? String(pair.key.value) : "")));
  const merged: Pair[] = [];
  for (const pair of map.items.filter(isMerge)) {
    const value = resolve(ctx, pair.value as Node | null);
    const sources = value !== undefined && isSeq(value) ? value.items.map((item) => resolve(ctx, item as Node | null)) : [value];
    for (const source of sources) {
      if (source === undefined || !isMap(source)) {
        own.push(pair); // reported by the caller as a bad key
        continue;
      }
      for (const inner of mergedPairs(ctx, source, seen)) {
        const key = isScalar(inner.key) ? String(inner.key.value) : "";
        if (!given.has(key)) {
          given.add(key);
          merged.push(inner);
        }
      }
    }
  }
  return [...own, ...merged];
}

function isScalarValue(value: unknown): value is ScalarValue {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

/** Follows aliases; null scalars and missing values become undefined ("not given"). */
function resolve(ctx: ReadContext, node: Node | null | undefined): Node | undefined {
  const target = node !== null && node !== undefined && isAlias(node) ? node.resolve(ctx.doc) : node;
  if (target === null || target === undefined) return undefined;
  return isScalar(target) && target.value === null ? undefined : target;
}

function describe(node: Node): string {
  if (isMap(node)) return "a map";
  if (isSeq(node)) return "a list";
  if (isScalar(node) && isScalarValue(node.value)) return showValue(node.value, node.source ?? String(node.value));
  return "this value";
}

function lineField(line: number | undefined): { line?: number } {
  return line === undefined || line === 0 ? {} : { line };
}

/**
 * The known key a mistyped one most likely meant: the same letters ignoring
 * case and -/_, else a small edit distance, else a shared prefix of 4+ letters
 * covering half the shorter name (grpcPort → grpcAddress). Short names (< 4)
 * only match exactly, so "os" does not suggest "gs".
 */
export function closest(given: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, "");
  const g = norm(given);
  const exact = known.find((k) => norm(k) === g);
  if (exact !== undefined || g.length < 4) return exact;
  let best: string | undefined;
  let bestDistance = Math.min(3, Math.max(1, Math.floor(g.length / 4)));
  for (const k of known) {
    const d = editDistance(g, norm(k));
    if (d <= bestDistance) {
      best = k;
      bestDistance = d - 1;
    }
  }
  if (best !== undefined) return best;
  let bestPrefix = 3;
  for (const k of known) {
    const n = norm(k);
    let p = 0;
    while (p < g.length && p < n.length && g[p] === n[p]) p++;
    if (p > bestPrefix && p * 2 >= Math.min(g.length, n.length)) {
      best = k;
      bestPrefix = p;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
