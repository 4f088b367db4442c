// The soak run's clients (bench/soak.ts): each client owns a set of object
// slots on mem:// and file:// and runs a random mix of operations on them,
// keeping a model of what the daemon acknowledged. Because no other client
// touches its slots and its calls are sequential, the model says exactly what
// every answer must be: the bytes of a read, the etag of a Head, the entries
// of a listing, which calls must fail with which code. Anything else is a
// failure. At the end `verifyClient` reads every acknowledged object back.
import { createCipheriv, createHash } from "node:crypto";
import { create, equals } from "@bufbuild/protobuf";
import { Code, type StowdClient, StowdClientError } from "../client/index.js";
import { ObjectInfoSchema } from "../gen/stowd/v1/object_pb.js";
import { seededRandom } from "../test/helpers/seeded-random.js";

export const OPS = [
  "write-small",
  "write-large",
  "create-only",
  "read",
  "read-range",
  "head",
  "list",
  "delete",
  "write-protobuf",
  "read-protobuf",
] as const;
export type Op = (typeof OPS)[number];

/** Relative frequency of each operation. */
const WEIGHTS: Record<Op, number> = {
  "write-small": 18,
  "write-large": 3,
  "create-only": 3,
  read: 18,
  "read-range": 10,
  head: 14,
  list: 7,
  delete: 7,
  "write-protobuf": 5,
  "read-protobuf": 5,
};

export const SCHEMES = ["mem", "file"] as const;
type Scheme = (typeof SCHEMES)[number];
type Kind = "small" | "large" | "pb";

/** Slots per client and scheme. Large slots are never deleted, so the memory store's size stays level. */
const SLOT_COUNTS: Record<Scheme, Record<Kind, number>> = {
  mem: { small: 12, large: 1, pb: 3 },
  file: { small: 12, large: 2, pb: 3 },
};

interface Slot {
  reference: string;
  scheme: Scheme;
  kind: Kind;
  /** Bumped on every acknowledged write; with the reference it determines the bytes. */
  version: number;
  present: boolean;
  size: number;
  sha256: string;
  etag: string;
  /** A mutation failed unexpectedly, so its outcome is unknown: the slot is left alone from then on. */
  uncertain: boolean;
}

export interface OpStats {
  /** Calls that answered as the model said, including expected errors. */
  ok: number;
  /** Of those, calls whose expected answer was an error (NOT_FOUND, ALREADY_EXISTS). */
  expectedErrors: number;
  /** Calls that failed with an error the model did not expect. */
  unexpectedErrors: number;
  /** Calls that succeeded with a wrong answer (bytes, etag, listing, or success where an error was due). */
  wrongAnswers: number;
  latenciesMs: number[];
  bytes: number;
}

export interface Failure {
  op: Op | "verify";
  reference: string;
  what: string;
}

/** Shared by every client of one run. */
export interface SoakState {
  stats: Record<Op, OpStats>;
  /** Error codes seen, expected ones and unexpected ones apart. */
  expectedCodes: Map<string, number>;
  unexpectedCodes: Map<string, number>;
  failures: Failure[];
  /** Operations still allowed; the run's bound on count. */
  remainingOps: number;
}

export function createSoakState(maxOps: number): SoakState {
  const stats = Object.fromEntries(
    OPS.map((op) => [op, { ok: 0, expectedErrors: 0, unexpectedErrors: 0, wrongAnswers: 0, latenciesMs: [], bytes: 0 }]),
  ) as unknown as Record<Op, OpStats>;
  return { stats, expectedCodes: new Map(), unexpectedCodes: new Map(), failures: [], remainingOps: maxOps };
}

export interface SoakClientOptions {
  index: number;
  stowd: StowdClient;
  /** Key prefix of this run, e.g. `soak-1a2b`; each client works under `<run>/c<index>/`. */
  run: string;
  seed: number;
  largeBytes: number;
  smallMaxBytes: number;
  state: SoakState;
}

export interface SoakClient {
  /** Writes every slot once (untimed), so the stores hold their steady-state data before the clock starts. */
  populate(): Promise<void>;
  /** Runs random operations until `deadline` (performance.now() ms) or the shared op budget runs out. */
  runUntil(deadline: number): Promise<void>;
  /** Checks every acknowledged object and every deletion against the daemon. */
  verify(): Promise<VerifyResult>;
}

export interface VerifyResult {
  objects: number;
  bytes: number;
  messages: number;
  gone: number;
  uncertain: number;
}

/** Deterministic bytes for (reference, version): AES-128-CTR keystream, so reads can be checked without keeping payloads. */
function contentOf(slot: Pick<Slot, "reference" | "version" | "size">): Buffer {
  const key = createHash("sha256").update(`${slot.reference}#${slot.version}`).digest().subarray(0, 16);
  return createCipheriv("aes-128-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(slot.size));
}

/** The message a protobuf slot holds at a version. */
function messageOf(slot: Pick<Slot, "reference" | "version">) {
  return create(ObjectInfoSchema, {
    reference: slot.reference,
    size: BigInt(slot.version),
    etag: `v${slot.version}`,
    contentType: "application/x-soak",
    metadata: { version: String(slot.version), padding: "x".repeat(slot.version % 200) },
  });
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Thrown inside an op when the daemon's answer contradicts the model. */
class WrongAnswer extends Error {}

/** An op whose model answer was an error, and got it. */
interface ExpectedError {
  expected: Code;
}

export function createSoakClient(options: SoakClientOptions): SoakClient {
  const { stowd, state } = options;
  const random = seededRandom(options.seed * 1000 + options.index + 1);
  const int = (n: number) => Math.floor(random() * n);
  const prefixOf = (scheme: Scheme) => `${scheme}://soak/${options.run}/c${options.index}/`;
  const slots: Slot[] = SCHEMES.flatMap((scheme) =>
    (["small", "large", "pb"] as const).flatMap((kind) =>
      Array.from({ length: SLOT_COUNTS[scheme][kind] }, (_, j) => ({
        reference: `${prefixOf(scheme)}${kind}/k${String(j).padStart(2, "0")}`,
        scheme,
        kind,
        version: 0,
        present: false,
        size: 0,
        sha256: "",
        etag: "",
        uncertain: false,
      })),
    ),
  );
  const totalWeight = OPS.reduce((sum, op) => sum + WEIGHTS[op], 0);

  function pickOp(): Op {
    let r = random() * totalWeight;
    for (const op of OPS) {
      r -= WEIGHTS[op];
      if (r < 0) return op;
    }
    return "head";
  }

  function pick(filter: (s: Slot) => boolean): Slot | undefined {
    const candidates = slots.filter((s) => !s.uncertain && filter(s));
    return candidates[int(candidates.length)];
  }

  function expect(condition: boolean, what: string): void {
    if (!condition) throw new WrongAnswer(what);
  }

  /** Runs a call whose model answer is an error with `code`; a success is a wrong answer. */
  async function expectError(code: Code, call: () => Promise<unknown>): Promise<ExpectedError> {
    try {
      await call();
    } catch (e) {
      if (e instanceof StowdClientError && e.code === code) return { expected: code };
      throw e;
    }
    throw new WrongAnswer(`succeeded, but the model expected ${Code[code]}`);
  }

  async function writeData(
    slot: Slot,
    size: number,
    extra: { ifMatchEtag?: string; ifExists?: boolean; ifNotExists?: boolean } = {},
  ): Promise<void> {
    const next = { reference: slot.reference, version: slot.version + 1, size };
    const data = contentOf(next);
    const info = await stowd.write(slot.reference, data, { contentType: "application/octet-stream", ...extra });
    expect(info.size === size, `WriteRaw acknowledged ${info.size} bytes, sent ${size}`);
    expect(info.etag !== "" && info.etag !== slot.etag, `WriteRaw returned etag ${JSON.stringify(info.etag)}, the same as before or empty`);
    Object.assign(slot, { version: next.version, present: true, size, sha256: sha256(data), etag: info.etag });
  }

  async function readAll(slot: Slot): Promise<number> {
    const handle = await stowd.read(slot.reference);
    expect(handle.info.etag === slot.etag, `read etag ${handle.info.etag}, the model says ${slot.etag}`);
    const hash = createHash("sha256");
    let bytes = 0;
    for await (const chunk of handle.chunks) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    expect(bytes === slot.size && hash.digest("hex") === slot.sha256, `read ${bytes} bytes that differ from the ${slot.size} acknowledged`);
    return bytes;
  }

  async function listAll(prefix: string, delimiter: string, pageSize: number): Promise<{ objects: string[]; prefixes: string[] }> {
    const objects: string[] = [];
    const prefixes: string[] = [];
    for await (const page of stowd.listPages(prefix, { delimiter, pageSize })) {
      objects.push(...page.objects.map((o) => o.reference));
      prefixes.push(...page.commonPrefixes);
    }
    return { objects, prefixes };
  }

  /** One operation against the model; returns the data bytes moved, or the error the model expected. */
  async function perform(op: Op, slot: Slot | undefined, scheme: Scheme): Promise<number | ExpectedError> {
    switch (op) {
      case "write-small": {
        if (slot === undefined) return 0;
        const size = int(options.smallMaxBytes + 1);
        const mode = random();
        // Conditional overwrites check that the etag the model holds is the current one.
        if (slot.present && mode < 0.3) await writeData(slot, size, { ifMatchEtag: slot.etag });
        else if (slot.present && mode < 0.45) await writeData(slot, size, { ifExists: true });
        else if (!slot.present && mode < 0.15) return expectError(Code.NotFound, () => writeData(slot, size, { ifExists: true }));
        else await writeData(slot, size);
        return size;
      }
      case "write-large":
        if (slot === undefined) return 0;
        await writeData(slot, options.largeBytes);
        return options.largeBytes;
      case "create-only":
        if (slot === undefined) return 0;
        if (slot.present) return expectError(Code.AlreadyExists, () => writeData(slot, 16, { ifNotExists: true }));
        await writeData(slot, 16, { ifNotExists: true });
        return 16;
      case "read":
        if (slot === undefined) return 0;
        if (!slot.present) return expectError(Code.NotFound, () => stowd.readBytes(slot.reference));
        return readAll(slot);
      case "read-range": {
        if (slot === undefined) return 0;
        const whole = contentOf(slot);
        let range: { offset: number; length: number } | { suffixLength: number };
        let expected: Buffer;
        if (random() < 0.25) {
          const suffixLength = 1 + int(Math.min(slot.size, 256 * 1024));
          range = { suffixLength };
          expected = whole.subarray(slot.size - suffixLength);
        } else {
          const offset = int(slot.size);
          const length = 1 + int(Math.min(slot.size, 512 * 1024));
          range = { offset, length };
          expected = whole.subarray(offset, offset + length);
        }
        const got = await stowd.readBytes(slot.reference, { range });
        expect(
          Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), expected) === 0,
          `range ${JSON.stringify(range)} of ${slot.size} bytes returned other bytes`,
        );
        return got.length;
      }
      case "head": {
        if (slot === undefined) return 0;
        const info = await stowd.head(slot.reference);
        if (!slot.present) expect(info === undefined, "Head found an object the model deleted or never wrote");
        else
          expect(
            info !== undefined && info.size === slot.size && info.etag === slot.etag,
            `Head said ${info === undefined ? "missing" : `${info.size} bytes, etag ${info.etag}`}, the model ${slot.size} bytes, etag ${slot.etag}`,
          );
        return 0;
      }
      case "list": {
        const live = slots.filter((s) => s.scheme === scheme && s.present);
        if (slots.some((s) => s.scheme === scheme && s.uncertain)) return 0;
        if (random() < 0.5) {
          // One "directory", paged in small pages.
          const got = await listAll(`${prefixOf(scheme)}small/`, "", 1 + int(8));
          const want = live.filter((s) => s.kind === "small").map((s) => s.reference);
          expect(
            JSON.stringify(got.objects) === JSON.stringify(want.sort()) && got.prefixes.length === 0,
            `List small/ gave ${got.objects.length} objects, the model ${want.length}`,
          );
        } else {
          const got = await listAll(prefixOf(scheme), "/", 2);
          const want = [...new Set(live.map((s) => `${prefixOf(scheme)}${s.kind}/`))].sort();
          expect(
            got.objects.length === 0 && JSON.stringify(got.prefixes) === JSON.stringify(want),
            `List with delimiter gave ${JSON.stringify(got.prefixes)}, the model ${JSON.stringify(want)}`,
          );
        }
        return 0;
      }
      case "delete": {
        if (slot === undefined) return 0;
        if (!slot.present) {
          if (random() < 0.5) await stowd.delete(slot.reference, { allowMissing: true });
          else return expectError(Code.NotFound, () => stowd.delete(slot.reference));
          return 0;
        }
        await stowd.delete(slot.reference, random() < 0.5 ? { ifMatchEtag: slot.etag } : {});
        Object.assign(slot, { present: false, size: 0, sha256: "", etag: "" });
        return 0;
      }
      case "write-protobuf": {
        if (slot === undefined) return 0;
        const next = { reference: slot.reference, version: slot.version + 1 };
        const info = await stowd.writeProtobuf(slot.reference, ObjectInfoSchema, messageOf(next));
        Object.assign(slot, { version: next.version, present: true, size: info.size, sha256: "", etag: info.etag });
        return info.size;
      }
      case "read-protobuf": {
        if (slot === undefined) return 0;
        if (!slot.present) return expectError(Code.NotFound, () => stowd.readProtobuf(slot.reference, ObjectInfoSchema));
        const { message, info } = await stowd.readProtobuf(slot.reference, ObjectInfoSchema);
        expect(
          equals(ObjectInfoSchema, message, messageOf(slot)) && info.etag === slot.etag,
          `ReadProtobuf returned version ${message.size}, the model ${slot.version}`,
        );
        return info.size;
      }
    }
  }

  function slotFor(op: Op, scheme: Scheme): Slot | undefined {
    const on = (s: Slot) => s.scheme === scheme;
    switch (op) {
      case "write-small":
      case "create-only":
      case "delete":
        return pick((s) => on(s) && s.kind === "small");
      case "write-large":
        return pick((s) => on(s) && s.kind === "large");
      case "read":
      case "head":
        return pick((s) => on(s) && s.kind !== "pb");
      case "read-range":
        return pick((s) => on(s) && s.kind !== "pb" && s.present && s.size > 0);
      case "write-protobuf":
      case "read-protobuf":
        return pick((s) => on(s) && s.kind === "pb");
      case "list":
        return undefined;
    }
  }

  async function step(op: Op): Promise<void> {
    const scheme = SCHEMES[int(SCHEMES.length)] as Scheme;
    const slot = slotFor(op, scheme);
    const stats = state.stats[op];
    const started = performance.now();
    try {
      const outcome = await perform(op, slot, scheme);
      stats.latenciesMs.push(performance.now() - started);
      stats.ok++;
      if (typeof outcome === "number") {
        stats.bytes += outcome;
      } else {
        stats.expectedErrors++;
        count(state.expectedCodes, Code[outcome.expected]);
      }
    } catch (e) {
      const reference = slot?.reference ?? prefixOf(scheme);
      if (e instanceof WrongAnswer) {
        stats.wrongAnswers++;
        state.failures.push({ op, reference, what: e.message });
      } else {
        stats.unexpectedErrors++;
        const code = e instanceof StowdClientError ? Code[e.code] : "local error";
        count(state.unexpectedCodes, code);
        state.failures.push({ op, reference, what: `${code}: ${e instanceof Error ? e.message : String(e)}` });
      }
      // The outcome of a failed mutation is unknown; stop reasoning about the slot.
      if (slot !== undefined && !["read", "read-range", "head", "read-protobuf"].includes(op)) slot.uncertain = true;
    }
  }

  return {
    async populate() {
      for (const slot of slots) {
        if (slot.kind === "pb") await perform("write-protobuf", slot, slot.scheme);
        else await writeData(slot, slot.kind === "large" ? options.largeBytes : int(options.smallMaxBytes + 1));
      }
    },

    async runUntil(deadline) {
      while (performance.now() < deadline && state.remainingOps > 0) {
        state.remainingOps--;
        await step(pickOp());
      }
    },

    async verify() {
      const result: VerifyResult = { objects: 0, bytes: 0, messages: 0, gone: 0, uncertain: 0 };
      const fail = (reference: string, what: string) => state.failures.push({ op: "verify", reference, what });
      for (const slot of slots) {
        if (slot.uncertain) {
          result.uncertain++;
          continue;
        }
        try {
          if (!slot.present) {
            const info = await stowd.head(slot.reference);
            if (info === undefined) result.gone++;
            else fail(slot.reference, `deleted (or never written), but Head finds ${info.size} bytes`);
          } else if (slot.kind === "pb") {
            const { message } = await stowd.readProtobuf(slot.reference, ObjectInfoSchema);
            if (equals(ObjectInfoSchema, message, messageOf(slot))) result.messages++;
            else fail(slot.reference, `holds message version ${message.size}, acknowledged ${slot.version}`);
          } else {
            result.bytes += await readAll(slot);
            result.objects++;
          }
        } catch (e) {
          fail(slot.reference, e instanceof Error ? e.message : String(e));
        }
      }
      // Nothing else under this client's prefixes: no object the model does not know of.
      for (const scheme of SCHEMES) {
        try {
          const got = await listAll(prefixOf(scheme), "", 1000);
          const known = new Set(slots.filter((s) => s.scheme === scheme && (s.present || s.uncertain)).map((s) => s.reference));
          const strangers = got.objects.filter((r) => !known.has(r));
          if (strangers.length > 0)
            fail(prefixOf(scheme), `lists objects the model deleted or never wrote: ${strangers.slice(0, 3).join(", ")}`);
        } catch (e) {
          fail(prefixOf(scheme), `final List failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      return result;
    },
  };
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
