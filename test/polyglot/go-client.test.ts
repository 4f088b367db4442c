// The Go example client (examples/go) run in CI: buf with Debian's
// protoc-gen-go and protoc-gen-go-grpc generates the stubs from proto/ into a
// temp GOPATH, Debian's Go toolchain builds the client offline (GOPATH mode,
// gRPC and genproto from /usr/share/gocode), then it runs against a real
// daemon on a loopback port. The program checks every answer itself (its
// round trip is the Python example's, plus google.rpc.ErrorInfo read with
// genproto's errdetails); this test checks its exit code and output. A
// missing Debian package fails the suite with the command that installs it.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { expectRefusedByDownloadLimit, expectRoundTrip, INSTALL_HINT, REPO, requireTool, run, type Run } from "./example-client.js";

const BUILD = join(REPO, "examples", "go", "build.sh");

/** Throws, naming the Debian package and the install script, when something the build needs is missing. */
function requirePrerequisites(): void {
  const tool = (command: string, args: string[], pkg: string) => requireTool(command, args, pkg, "the Go client test");
  tool("go", ["version"], "golang-go");
  tool("protoc", ["--version"], "protobuf-compiler");
  tool("sh", ["-c", "command -v protoc-gen-go"], "protoc-gen-go");
  tool("sh", ["-c", "command -v protoc-gen-go-grpc"], "protoc-gen-go-grpc");
  tool("sh", ["-c", "command -v grpc_python_plugin"], "protobuf-compiler-grpc");
  for (const [dir, pkg] of [
    ["google.golang.org/grpc", "golang-google-grpc-dev"],
    ["google.golang.org/genproto/googleapis/rpc/errdetails", "golang-google-genproto-dev"],
    // The generated code is protobuf APIv2; grpc and genproto reach it through golang/protobuf 1.5 (1.3 lacks it).
    ["google.golang.org/protobuf/proto", "golang-google-protobuf-dev"],
    ["github.com/golang/protobuf/ptypes/any", "golang-github-golang-protobuf-1-5-dev"],
  ] as const) {
    if (!existsSync(join("/usr/share/gocode/src", dir))) {
      throw new Error(`/usr/share/gocode/src/${dir} is missing (Debian package ${pkg}, needed by the Go client test); ${INSTALL_HINT}`);
    }
  }
}

let daemon: TestDaemon;
let out: string;

beforeAll(async () => {
  requirePrerequisites();
  out = await mkdtemp(join(tmpdir(), "stowd-go-client-"));
  // A cold build compiles gRPC from Debian's sources: tens of seconds on two cores.
  const built = await run("bash", [BUILD, out], { timeoutMs: 300_000 });
  if (built.code !== 0) throw new Error(`examples/go/build.sh failed (exit ${String(built.code)}):\n${built.stderr}`);
  daemon = await startTestDaemon();
}, 300_000);
afterAll(async () => {
  await daemon?.close();
  if (out !== undefined) await rm(out, { recursive: true, force: true });
});

function example(...args: string[]): Promise<Run> {
  return run(join(out, "stowd-example"), args);
}

describe("Go example client (Debian Go 1.19, GOPATH mode, stubs from proto/ by buf with Debian's plugins)", () => {
  it("generates the stubs where the contract's go_package puts them", () => {
    for (const file of ["raw_store.pb.go", "raw_store_grpc.pb.go", "protobuf_store_grpc.pb.go", "error.pb.go", "object.pb.go"]) {
      expect(existsSync(join(out, "go/src/github.com/stowd/stowd/gen/go/stowd/v1", file)), file).toBe(true);
    }
    expect(existsSync(join(out, "go/src/github.com/stowd/stowd/examples/gen/go/example/v1/note.pb.go"))).toBe(true);
  });

  it.each(["file://example/ci-go", "mem://example/ci-go"])(
    "64 MiB round trip, Head, delimiter listing, ranges, Note as an Any, ErrorDetail and google.rpc.ErrorInfo on %s",
    async (prefix) => {
      const result = await example("-size-mib", "64", "-prefix", prefix, daemon.grpcAddress);
      await expectRoundTrip(
        result,
        [
          "ok: WriteRaw stored 67108864 bytes (64 MiB), etag ",
          "ok: Head: etag equals the one WriteRaw returned",
          "ok: Head: CRC32C ",
          "ok: ReadRaw returned the 67108864 bytes written, byte-identical",
          `ok: ranged read: 100000 bytes at offset ${Math.floor(67108864 / 3) + 7}`,
          "ok: suffix range: the last 1000 bytes",
          "ok: List with delimiter '/': objects [a.txt b.txt blob.bin]",
          `ok: List with delimiter '/': common prefixes [${prefix}/data/logs/ ${prefix}/data/tmp/]`,
          "ok: packed as type.googleapis.com/example.v1.Note",
          'ok: ReadProtobuf: decoded Note equals the one written ("blob checked", tags [go example])',
          "ok: ReadRaw of the protobuf object: exactly the Note's wire bytes",
          "ok: ReadRaw of a missing object: ErrorDetail reason ERROR_REASON_NOT_FOUND",
          `ok: ErrorDetail names the reference ${prefix}/data/nothing-here`,
          "ok: google.rpc.ErrorInfo (genproto errdetails): reason NOT_FOUND, domain stowd.dev",
          "ok: google.rpc.ErrorInfo metadata names the reference",
          "ok: no google.rpc.RetryInfo: retrying a NOT_FOUND cannot help",
          "ok: create-only write over an existing object: ErrorDetail reason ERROR_REASON_ALREADY_EXISTS",
          "ok: a write whose bytes do not match its declared CRC32C: ErrorDetail reason ERROR_REASON_CHECKSUM_MISMATCH",
          "ok: the refused writes changed nothing",
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
    // A daemon whose download limit (1 MiB) is below the object the program reads back.
    const limited = await startTestDaemon({ maxDownloadMBs: 1 });
    try {
      const result = await example("-size-mib", "2", "-prefix", "mem://example/limited", limited.grpcAddress);
      expectRefusedByDownloadLimit(result);
    } finally {
      await limited.close();
    }
  });

  it("exits 1 with a clear message when no daemon listens", async () => {
    const result = await example("-size-mib", "1", "-connect-timeout", "1s", "127.0.0.1:1");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("FAILED: no gRPC server answered at 127.0.0.1:1 within 1s");
  });
});
