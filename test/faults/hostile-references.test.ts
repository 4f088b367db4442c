// A corpus of hostile references and keys sent through the service to every
// RPC that names an object: traversal (`..`, `%2e%2e`, encoded slashes and
// backslashes), NUL and control characters, absolute paths, stowd's internal
// directory, symbolic links planted in the local root that point outside,
// very long keys and unicode normalization tricks. Each call must end with a
// clear status (never INTERNAL or UNKNOWN), the daemon must keep answering,
// and no file outside the local root may change: a sentinel directory next
// to the root is snapshotted before and compared after.
import { createHash } from "node:crypto";
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { StringValueSchema } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProtobufStoreService } from "../../gen/stowd/v1/protobuf_store_pb.js";
import { RawStoreService, SignedUrlMethod } from "../../gen/stowd/v1/raw_store_pb.js";
import { builtBackend } from "../../server/decorators/scheme-router.js";
import { createLocalStore } from "../../server/stores/local/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";

/** Every file, directory and link under `dir`: type, mode, size, mtime, content hash or link target. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(at: string): Promise<void> {
    for (const name of (await readdir(at)).sort()) {
      const full = path.join(at, name);
      const rel = path.relative(dir, full);
      const stats = await lstat(full);
      if (stats.isSymbolicLink()) out[rel] = `link -> ${await readlink(full)}`;
      else if (stats.isDirectory()) {
        out[rel] = `dir ${stats.mode.toString(8)} ${stats.mtimeMs}`;
        await walk(full);
      } else {
        const hash = createHash("sha256")
          .update(await readFile(full))
          .digest("hex");
        out[rel] = `file ${stats.mode.toString(8)} ${stats.size} ${stats.mtimeMs} ${hash}`;
      }
    }
  }
  await walk(dir);
  return out;
}

const OK_FAILURES = new Set([
  Code.InvalidArgument,
  Code.PermissionDenied,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.AlreadyExists,
  Code.OutOfRange,
  Code.Unimplemented,
  Code.ResourceExhausted, // a request over the 64 KiB cap of single-message requests (the 64 KiB key)
]);

let parent: string;
let root: string;
let sentinel: string;
let daemon: TestDaemon;
let raw: ReturnType<typeof createClient<typeof RawStoreService>>;
let pb: ReturnType<typeof createClient<typeof ProtobufStoreService>>;

beforeAll(async () => {
  parent = await mkdtemp(path.join(tmpdir(), "stowd-hostile-"));
  root = path.join(parent, "root");
  sentinel = path.join(parent, "sentinel");
  await mkdir(path.join(sentinel, "sub"), { recursive: true });
  await writeFile(path.join(sentinel, "secret.txt"), "do not touch\n");
  await writeFile(path.join(sentinel, "sub", "x"), "nested\n");
  await writeFile(path.join(parent, "next-to-root.txt"), "beside the root\n");
  await mkdir(path.join(root, "b"), { recursive: true });
  // Links planted inside the root, pointing outside it.
  await symlink(sentinel, path.join(root, "b", "escape")); // a directory link inside a container
  await symlink(path.join(sentinel, "secret.txt"), path.join(root, "b", "file-link")); // a file link as an object
  await symlink(sentinel, path.join(root, "evil")); // a whole container that is a link
  await symlink("../../sentinel/secret.txt", path.join(root, "b", "relative-link")); // relative
  await symlink("/etc/hostname", path.join(root, "b", "abs-link"));
  daemon = await startTestDaemon({ backends: { file: builtBackend(await createLocalStore({ root })) } });
  // A call that hangs shows up as DEADLINE_EXCEEDED, which the checks refuse.
  const transport = createGrpcTransport({ baseUrl: daemon.grpcUrl, defaultTimeoutMs: 10_000 });
  raw = createClient(RawStoreService, transport);
  pb = createClient(ProtobufStoreService, transport);
});

afterAll(async () => {
  await daemon.close();
  await rm(parent, { recursive: true, force: true });
});

const LONG = "k".repeat(255);
const corpus: string[] = [
  // traversal, plain and encoded
  "file://b/../x",
  "file://b/a/../../x",
  "file://b/../../sentinel/secret.txt",
  "file://b/%2e%2e/sentinel/secret.txt",
  "file://b/%2E%2E%2F%2E%2E%2Fsentinel%2Fsecret.txt",
  "file://b/a%2f..%2f..%2f..%2fsentinel%2fsecret.txt",
  "file://b/.%2e/x",
  "file://b/./x",
  "file://b/%2e/x",
  "file://../sentinel/secret.txt",
  "file://%2e%2e/sentinel/secret.txt",
  "file://./x",
  "file://../x",
  "file:///../sentinel/secret.txt",
  "file://b/..",
  "file://b/x/..",
  "file://b/%c0%ae%c0%ae/x", // overlong UTF-8 for ".."
  "file://b/%e0%80%ae%e0%80%ae/x",
  // backslashes (a plain character on Linux; must not be a separator)
  "file://b/..\\..\\sentinel\\secret.txt",
  "file://b/%5c..%5c..%5csentinel%5csecret.txt",
  "file://b\\..\\x/y",
  "file:\\\\b\\x",
  // NUL and control characters
  "file://b/a%00b",
  "file://b/%00",
  "file://b/a\u0000b",
  "file://b/a%0ab",
  "file://b/a%0d%0aX-Injected: 1",
  "file://b/a%7f",
  "file://b/a\tb",
  // absolute paths and the internal directory
  "file:///etc/passwd",
  "file://b//etc/passwd",
  "file:////etc/passwd",
  "file://b/%2fetc%2fpasswd",
  "file:///.stowd/tmp/x",
  "file:///.stowd/meta",
  "file://.stowd/tmp/x",
  "file://b/.stowd/x",
  // links planted in the root
  "file://b/escape/secret.txt",
  "file://b/escape/sub/x",
  "file://b/escape/new-file",
  "file://b/escape",
  "file://b/file-link",
  "file://b/relative-link",
  "file://b/abs-link",
  "file://b/file-link/x",
  "file://evil/secret.txt",
  "file://evil/sub/x",
  "file://evil/new-file",
  // very long keys
  `file://b/${LONG}`,
  `file://b/${LONG}k`,
  `file://b/${"a/".repeat(2000)}x`,
  `file://b/${"é".repeat(128)}`,
  `file://b/${"x".repeat(64 * 1024)}`,
  `file://${"c".repeat(300)}/x`,
  // unicode normalization and look-alikes
  "file://b/caf\u00e9",
  "file://b/cafe\u0301",
  "file://b/\u212b", // Angstrom sign, NFC = Å
  "file://b/\u00c5",
  "file://b/\uff0e\uff0e/x", // fullwidth dots
  "file://b/\u2024\u2024/x", // one dot leader
  "file://b/\u2025/x", // two dot leader
  "file://b/..\u200b/x", // zero-width space
  "file://b/%ef%bc%8e%ef%bc%8e/x",
  "file://b/\ufeff../x",
  // other schemes and shapes
  "s3://b/../x",
  "mem://b/../x",
  "mem://b/%2e%2e",
  "mem://b/a%00b",
  "redis://b/x",
  "FILE://B/x",
  "file:/b/x",
  "file:b/x",
  "//b/x",
  "file://b/x?y=1",
  "file://b/x#frag",
  "file://user:pass@b/x",
  "file://b:99999999/x",
  "file://[::1]/x",
  "abfs://a@b/../x",
];

async function outcome(call: () => Promise<unknown>, what: string): Promise<Code | "OK"> {
  try {
    await call();
    return "OK";
  } catch (err) {
    expect(err, what).toBeInstanceOf(ConnectError);
    const e = err as ConnectError;
    expect(OK_FAILURES.has(e.code), `${what}: ${Code[e.code]} ${e.rawMessage}`).toBe(true);
    expect(e.rawMessage.length, what).toBeGreaterThan(10);
    return e.code;
  }
}

async function* bodyOf(reference: string, data: string) {
  yield { body: { case: "header" as const, value: { reference } } };
  yield { body: { case: "chunk" as const, value: Buffer.from(data) } };
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const message of stream) void message;
}

describe("hostile references through the service", () => {
  it("answers every RPC on every corpus entry with OK or a clear error, and touches nothing outside the root", async () => {
    const before = await snapshot(sentinel);
    const beside = (await readdir(parent)).sort();
    const outcomes: Record<string, string[]> = {};
    for (const reference of corpus) {
      const results: string[] = [];
      const record = async (name: string, call: () => Promise<unknown>) => {
        const result = await outcome(call, `${name} ${JSON.stringify(reference.slice(0, 80))}`);
        results.push(`${name}:${result === "OK" ? "OK" : Code[result]}`);
      };
      await record("Head", () => raw.head({ reference }));
      await record("ReadRaw", () => drain(raw.readRaw({ reference })));
      await record("WriteRaw", () => raw.writeRaw(bodyOf(reference, "hostile write")));
      await record("Append", () =>
        raw.append(
          (async function* () {
            yield { body: { case: "header" as const, value: { reference, createIfMissing: true } } };
            yield { body: { case: "chunk" as const, value: Buffer.from("+") } };
          })(),
        ),
      );
      await record("CopyFrom", () => raw.copyRaw({ sourceReference: reference, destinationReference: "mem://b/copy-target" }));
      await record("CopyTo", () => raw.copyRaw({ sourceReference: "mem://b/source", destinationReference: reference }));
      await record("List", () => raw.list({ reference, pageSize: 100 }));
      await record("ListDelim", () => raw.list({ reference, pageSize: 100, delimiter: "/" }));
      await record("WriteProtobuf", () =>
        pb.writeProtobuf({ reference, message: anyPack(StringValueSchema, create(StringValueSchema, { value: "x" })) }),
      );
      await record("ReadProtobuf", () => pb.readProtobuf({ reference }));
      await record("SignedUrl", () => raw.createSignedUrl({ reference, method: SignedUrlMethod.GET, expiresIn: { seconds: 60n } }));
      await record("Split", () => raw.splitReference({ reference }));
      await record("Construct", () => raw.constructReference({ baseReference: "file://b/base", nestedKeys: [reference] }));
      await record("Delete", () => raw.delete({ reference, allowMissing: true }));
      await record("DeletePrefix", () => raw.deletePrefix({ reference }));
      outcomes[reference] = results;
      // Still serving after each entry.
      expect((await raw.head({ reference: "mem://b/alive" })).exists).toBe(false);
    }
    expect(await snapshot(sentinel)).toEqual(before);
    expect((await readdir(parent)).sort()).toEqual(beside);
    expect(await readFile(path.join(parent, "next-to-root.txt"), "utf8")).toBe("beside the root\n");
    // The links planted in the root are still links to where they pointed
    // (an overwrite may have replaced the link itself, never its target).
    for (const [name, target] of [
      ["escape", sentinel],
      ["relative-link", "../../sentinel/secret.txt"],
      ["abs-link", "/etc/hostname"],
    ] as const) {
      expect(await readlink(path.join(root, "b", name))).toBe(target);
    }
    expect(await readlink(path.join(root, "evil"))).toBe(sentinel);
    // Traversal in any form never reads the sentinel.
    for (const reference of corpus.filter((r) => /sentinel|escape|evil|link/.test(r))) {
      const read = await outcome(() => drain(raw.readRaw({ reference })), reference);
      if (read === "OK") expect.fail(`${reference} was readable: ${outcomes[reference]?.join(" ")}`);
    }
  });

  it("never lists what a link inside the root points to", async () => {
    const keys: string[] = [];
    let pageToken = "";
    do {
      const page = await raw.list({ reference: "file://b/", pageSize: 1000, pageToken });
      keys.push(...page.objects.map((o) => o.reference));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(keys.filter((k) => /secret|sub\/x|hostname/.test(k))).toEqual([]);
    const evil = await outcome(() => raw.list({ reference: "file://evil/", pageSize: 100 }), "list evil");
    expect(evil).toBe(Code.PermissionDenied);
  });

  it("keeps keys that differ only in unicode normalization apart (no aliasing)", async () => {
    const pairs = [
      ["file://b/n-caf\u00e9", "file://b/n-cafe\u0301"],
      ["file://b/n-\u212b", "file://b/n-\u00c5"],
      ["mem://b/n-caf\u00e9", "mem://b/n-cafe\u0301"],
    ] as const;
    for (const [a, b] of pairs) {
      await raw.writeRaw(bodyOf(a, "first"));
      await raw.writeRaw(bodyOf(b, "second"));
      const read = async (reference: string) => {
        const parts: Uint8Array[] = [];
        for await (const m of raw.readRaw({ reference })) if (m.body.case === "chunk") parts.push(m.body.value);
        return Buffer.concat(parts).toString();
      };
      expect(await read(a)).toBe("first");
      expect(await read(b)).toBe("second");
    }
  });

  it("stores accepted awkward keys inside the root, under the path the key names", async () => {
    for (const [reference, relative] of [
      ["file://b/..\\..\\sentinel\\secret.txt", "b/..\\..\\sentinel\\secret.txt"],
      ["file:///etc/passwd", "etc/passwd"],
      ["file://b/\uff0e\uff0e/x", "b/\uff0e\uff0e/x"],
    ] as const) {
      await raw.writeRaw(bodyOf(reference, "inside"));
      expect(await readFile(path.join(root, relative), "utf8")).toBe("inside");
    }
  });
});
