// Property test (fast-check): random spellings of references — scheme case,
// percent-encoding, `%2F` for `/`, userinfo, triple slashes, trailing
// slashes, empty containers, the abfs/abfss alias, unconfigured schemes —
// sent through the daemon's RPCs to the local store, memory and an aliased
// pair of schemes, with the cache on. After every step each object reads back
// as a model says, whichever spelling wrote it and whichever reads it (one
// canonical identity per stored object); at the end the files under the
// local root are exactly the model's, nothing outside the root changed, and
// no metrics label took a value outside the configured set.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { OTHER_SCHEME_LABEL } from "../../server/decorators/metered-store.js";
import { builtBackend } from "../../server/decorators/scheme-router.js";
import { INTERNAL_DIR } from "../../server/stores/local/paths.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";

const CONFIGURED = ["mem", "file", "abfs", "abfss"];
let daemon: TestDaemon;
let raw: Client<typeof RawStoreService>;
let sentinel: string;

/** Every file under `dir` (relative path -> sha256), skipping stowd's internal directory at the top. */
async function files(dir: string, top = true): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (top && name === INTERNAL_DIR) continue;
    const full = path.join(dir, name);
    if ((await stat(full)).isDirectory()) {
      for (const [rel, hash] of await files(full, false)) out.set(`${name}/${rel}`, hash);
    } else {
      out.set(
        name,
        createHash("sha256")
          .update(await readFile(full))
          .digest("hex"),
      );
    }
  }
  return out;
}

beforeAll(async () => {
  // abfs and abfss share one backend, as configuredBackends makes them for Azure.
  const azure = builtBackend(createMemoryStore());
  daemon = await startTestDaemon({ cacheMbs: 16, backends: { abfs: azure, abfss: azure } });
  raw = createClient(RawStoreService, createGrpcTransport({ baseUrl: daemon.grpcUrl }));
  sentinel = path.join(path.dirname(daemon.localRoot), `${path.basename(daemon.localRoot)}-sentinel`);
  await mkdir(sentinel, { recursive: true });
  await writeFile(path.join(sentinel, "secret.txt"), "outside the root\n");
});
afterAll(async () => {
  await daemon?.close();
  if (sentinel !== undefined) await rm(sentinel, { recursive: true, force: true });
});

/** An object as the model knows it: its backend family and canonical identity. */
interface ObjectName {
  scheme: "file" | "mem" | "abfs";
  container: string;
  segments: string[];
}

/** The model's identity: the file's path for file://, the shared Azure family for abfs/abfss, container/key for mem. */
function modelIdentity(o: ObjectName): string {
  const key = o.segments.join("/");
  if (o.scheme === "file") return `file:${[o.container, key].filter((p) => p !== "").join("/")}`;
  return `${o.scheme}:${o.container}/${key}`;
}

const segment = fc.constantFrom("a", "d", "x y", "é", "p%q", "plus+", "ü.txt");
const objectName: fc.Arbitrary<ObjectName> = fc.record({
  scheme: fc.constantFrom("file" as const, "mem" as const, "abfs" as const),
  container: fc.constantFrom("b", "c2", "bucket-3"),
  segments: fc.array(segment, { minLength: 1, maxLength: 3 }),
});

/** Percent-encodes some characters of a decoded key segment (always those that must be). */
function escapeSegment(s: string, encodeAll: boolean): string {
  let out = "";
  for (const ch of s) {
    const must = !/[A-Za-z0-9\-_.~+]/.test(ch);
    out += must || encodeAll ? [...Buffer.from(ch, "utf8")].map((b) => `%${b.toString(16).padStart(2, "0").toUpperCase()}`).join("") : ch;
  }
  return out;
}

/** One random spelling of `o`'s reference. */
function spelling(o: ObjectName): fc.Arbitrary<string> {
  return fc
    .record({
      schemeCase: fc.constantFrom("lower", "upper", "title"),
      azureAlias: fc.boolean(),
      userinfo: fc.boolean(),
      emptyHostForm: fc.boolean(), // file:///container/key
      extraLeadingSlash: fc.boolean(),
      trailingSlash: fc.boolean(),
      encodedSlash: fc.boolean(),
      encodeAll: fc.boolean(),
    })
    .map((f) => {
      let scheme: string = o.scheme === "abfs" && f.azureAlias ? "abfss" : o.scheme;
      scheme =
        f.schemeCase === "upper" ? scheme.toUpperCase() : f.schemeCase === "title" ? scheme[0]!.toUpperCase() + scheme.slice(1) : scheme;
      const key = o.segments.map((s) => escapeSegment(s, f.encodeAll)).join(f.encodedSlash ? "%2F" : "/");
      const lead = f.extraLeadingSlash ? "/" : ""; // leading slashes of the path are trimmed, as Flyte does
      const tail = `${lead}${key}${f.trailingSlash ? "/" : ""}`;
      if (o.scheme === "file" && f.emptyHostForm) return `${scheme}:///${lead}${o.container}/${key}${f.trailingSlash ? "/" : ""}`;
      if (o.scheme === "abfs") return `${scheme}://${f.userinfo ? `${o.container}@acct.dfs.core.windows.net` : o.container}/${tail}`;
      return `${scheme}://${f.userinfo ? "user:pw@" : ""}${o.container}/${tail}`;
    });
}

type Step =
  | { kind: "write"; object: ObjectName; via: string; content: string }
  | { kind: "read"; object: ObjectName; via: string }
  | { kind: "delete"; object: ObjectName; via: string }
  | { kind: "unconfigured"; reference: string };

const step: fc.Arbitrary<Step> = fc.oneof(
  objectName.chain((object) =>
    fc.record({
      kind: fc.constant("write" as const),
      object: fc.constant(object),
      via: spelling(object),
      content: fc.string({ maxLength: 20 }),
    }),
  ),
  objectName.chain((object) => fc.record({ kind: fc.constant("read" as const), object: fc.constant(object), via: spelling(object) })),
  objectName.chain((object) => fc.record({ kind: fc.constant("delete" as const), object: fc.constant(object), via: spelling(object) })),
  fc.record({
    kind: fc.constant("unconfigured" as const),
    reference: fc
      .stringMatching(/^[a-z][a-z0-9+.-]{0,30}$/)
      .filter((s) => !CONFIGURED.includes(s))
      .map((s) => `${s}://b/k`),
  }),
);

async function readText(reference: string): Promise<string | undefined> {
  try {
    const chunks: Uint8Array[] = [];
    for await (const m of raw.readRaw({ reference })) if (m.body.case === "chunk") chunks.push(m.body.value);
    return Buffer.concat(chunks).toString("utf8");
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
    throw err;
  }
}

async function* upload(reference: string, content: string) {
  yield { body: { case: "header" as const, value: { reference, contentType: "text/plain" } } };
  yield { body: { case: "chunk" as const, value: Buffer.from(content) } };
}

describe("one canonical identity per stored object", () => {
  it("holds for random spellings through the RPCs, with nothing outside the root touched and no stray labels", async () => {
    const before = await files(sentinel);
    /** What each object holds, by model identity, over every run (the daemon keeps its state between runs). */
    const model = new Map<string, string>();
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        for (const s of steps) {
          if (s.kind === "unconfigured") {
            const err = await raw.head({ reference: s.reference }).catch((e: unknown) => e);
            expect(err, s.reference).toBeInstanceOf(ConnectError);
            expect((err as ConnectError).code).toBe(Code.InvalidArgument);
            continue;
          }
          const id = modelIdentity(s.object);
          if (s.kind === "write") {
            try {
              await raw.writeRaw(upload(s.via, s.content));
              model.set(id, s.content);
            } catch (err) {
              // A key that is a file where another needs a directory (or the reverse) is the user's conflict on local disk.
              expect(s.object.scheme, `${s.via}: ${String(err)}`).toBe("file");
              expect([Code.InvalidArgument, Code.FailedPrecondition, Code.AlreadyExists], `${s.via}: ${String(err)}`).toContain(
                (err as ConnectError).code,
              );
            }
          } else if (s.kind === "delete") {
            await raw.delete({ reference: s.via, allowMissing: true });
            model.delete(id);
          }
          // Whatever spelling did it, the object reads as the model says, through any spelling.
          expect(await readText(s.via), `${s.kind} ${s.via} (${id})`).toBe(model.get(id));
          const head = await raw.head({ reference: s.via });
          expect(head.exists, `head ${s.via}`).toBe(model.has(id));
        }
      }),
      { numRuns: 40 },
    );
    // The local root holds exactly the model's file:// objects.
    const onDisk = await files(daemon.localRoot);
    const expected = new Map(
      [...model]
        .filter(([id]) => id.startsWith("file:"))
        .map(([id, content]) => [id.slice("file:".length), createHash("sha256").update(content).digest("hex")]),
    );
    expect(Object.fromEntries(onDisk)).toEqual(Object.fromEntries(expected));
    // Nothing outside it changed.
    expect(await files(sentinel)).toEqual(before);
    // Labels took configured values only.
    const exposition = await daemon.metrics.registry.metrics();
    for (const m of exposition.matchAll(/scheme="([^"]*)"/g)) expect([...CONFIGURED, OTHER_SCHEME_LABEL]).toContain(m[1]);
  }, 120_000);
});
