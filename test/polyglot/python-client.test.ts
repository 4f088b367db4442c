// The Python example client (examples/python) run in CI: buf with Debian's
// protoc and grpc_python_plugin (buf.gen.polyglot.yaml, then the example's
// own examples/python/buf.gen.yaml) generates the stubs from proto/ into a
// temp dir, then Debian's python3
// runs the example against a real daemon on a loopback port. The script
// checks every answer itself; this test checks its exit code and output. A
// missing Debian package fails the suite with the command that installs it.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { expectRefusedByDownloadLimit, expectRoundTrip, INSTALL_HINT, REPO, requireTool, run, type Run } from "./example-client.js";

const EXAMPLE = join(REPO, "examples", "python", "stowd_example.py");
const GENERATE = join(REPO, "examples", "python", "generate-stubs.sh");
// Debian's interpreter: a pyenv shim or virtualenv python on PATH does not see dist-packages.
const PYTHON = "/usr/bin/python3";

/** Throws, naming the Debian package and the install script, when something the example needs is missing. */
function requirePrerequisites(): void {
  const tool = (command: string, args: string[], pkg: string) => requireTool(command, args, pkg, "the Python client test");
  tool(PYTHON, ["--version"], "python3");
  const version = /libprotoc (\d+)\.(\d+)/.exec(tool("protoc", ["--version"], "protobuf-compiler"));
  // proto3 `optional` (our WriteRawHeader.size) needs protoc 3.15 or later.
  if (version === null || Number(version[1]) * 100 + Number(version[2]) < 315) {
    throw new Error(
      `protoc ${version?.[0] ?? "(unknown version)"} is too old for proto3 optional; install Debian's protobuf-compiler (3.21): ${INSTALL_HINT}`,
    );
  }
  tool("sh", ["-c", "command -v grpc_python_plugin"], "protobuf-compiler-grpc");
  // scripts/generate-polyglot.sh checks for these too: the buf template lists Go and Python together.
  tool("sh", ["-c", "command -v protoc-gen-go"], "protoc-gen-go");
  tool("sh", ["-c", "command -v protoc-gen-go-grpc"], "protoc-gen-go-grpc");
  tool(PYTHON, ["-c", "import grpc, google.protobuf"], "python3-grpcio and python3-protobuf");
}

let daemon: TestDaemon;
let stubs: string;

beforeAll(async () => {
  requirePrerequisites();
  stubs = await mkdtemp(join(tmpdir(), "stowd-python-stubs-"));
  const generated = await run("bash", [GENERATE, stubs]);
  if (generated.code !== 0) throw new Error(`generate-stubs.sh failed (exit ${String(generated.code)}):\n${generated.stderr}`);
  daemon = await startTestDaemon();
});
afterAll(async () => {
  await daemon?.close();
  if (stubs !== undefined) await rm(stubs, { recursive: true, force: true });
});

/** Runs the example with the generated stubs on its path. */
function python(...args: string[]): Promise<Run> {
  return run(PYTHON, [EXAMPLE, ...args], { env: { PYTHONPATH: join(stubs, "python"), PYTHONDONTWRITEBYTECODE: "1" } });
}

describe("Python example client (Debian python3-grpcio, stubs from proto/ by buf with Debian protoc)", () => {
  it("generates stubs for stowd.v1, the example's own Note type, google.rpc.Status and the standard error details", () => {
    for (const module of [
      "stowd/v1/raw_store_pb2.py",
      "stowd/v1/raw_store_pb2_grpc.py",
      "stowd/v1/protobuf_store_pb2_grpc.py",
      "stowd/v1/error_pb2.py",
      "example/v1/note_pb2.py",
      "google/rpc/status_pb2.py",
      "google/rpc/error_details_pb2.py",
    ]) {
      expect(existsSync(join(stubs, "python", module)), module).toBe(true);
    }
  });

  it.each(["file://example/ci-python", "mem://example/ci-python"])(
    "64 MiB round trip, Head, delimiter listing, ranges, Note as an Any, error details on %s",
    async (prefix) => {
      const result = await python(daemon.grpcAddress, "--size-mib", "64", "--prefix", prefix);
      await expectRoundTrip(
        result,
        [
          "ok: WriteRaw stored 67108864 bytes (64 MiB), etag ",
          "ok: Head: etag equals the one WriteRaw returned",
          "ok: ReadRaw returned the 67108864 bytes written, byte-identical",
          `ok: ranged read: 100000 bytes at offset ${Math.floor(67108864 / 3) + 7}`,
          "ok: suffix range: the last 1000 bytes",
          "ok: List with delimiter '/': objects ['a.txt', 'b.txt', 'blob.bin']",
          `ok: List with delimiter '/': common prefixes ['${prefix}/data/logs/', '${prefix}/data/tmp/']`,
          "ok: packed as type.googleapis.com/example.v1.Note",
          "ok: ReadProtobuf: type URL type.googleapis.com/example.v1.Note",
          "ok: ReadProtobuf: decoded Note equals the one written ('blob checked', tags ['python', 'example'])",
          "ok: ReadRaw of the protobuf object: exactly the Note's wire bytes",
          "ok: ReadRaw of a missing object: ErrorDetail reason ERROR_REASON_NOT_FOUND",
          `ok: ErrorDetail names the reference ${prefix}/data/nothing-here`,
          "ok: google.rpc.ErrorInfo: reason NOT_FOUND, domain stowd.dev",
          "ok: google.rpc.ErrorInfo metadata names the reference",
          "ok: no google.rpc.RetryInfo: retrying a NOT_FOUND cannot help",
          "ok: create-only write over an existing object: ErrorDetail reason ERROR_REASON_ALREADY_EXISTS",
          "ok: ReadProtobuf asking for another type: ErrorDetail reason ERROR_REASON_TYPE_MISMATCH",
          "ok: DeletePrefix removed 7 objects",
        ],
        daemon.httpUrl,
        prefix,
      );
    },
    120_000,
  );

  it("exits 1 naming the code and the decoded ErrorDetail reason when the daemon refuses a call", async () => {
    // A daemon whose download limit (1 MiB) is below the object the script reads back.
    const limited = await startTestDaemon({ maxDownloadMBs: 1 });
    try {
      const result = await python(limited.grpcAddress, "--size-mib", "2", "--prefix", "mem://example/limited");
      expectRefusedByDownloadLimit(result);
    } finally {
      await limited.close();
    }
  });

  it("exits 1 with a clear message when no daemon listens", async () => {
    const result = await python("127.0.0.1:1", "--size-mib", "1", "--connect-timeout", "1");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("FAILED: no gRPC server answered at 127.0.0.1:1 within 1 s");
  });
});
