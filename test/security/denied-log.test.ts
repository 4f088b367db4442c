// The "call denied" log line (server/security/authorize.ts) masks a
// reference's userinfo password and bounds a hostile reference exactly as
// the per-call line (server/calls/call-log.ts) does: both go through one
// function, so neither line ever carries `mem://alice:secret@...`.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createStowdTransport, type StowdTransport } from "../../client/transport.js";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { redirectLog, setLogLevel } from "../../server/observability/log.js";
import { startSecureDaemon, writeTokenFile, type SecureDaemon } from "./secure-daemon.js";

const SECRET = "hunter2-pass-word";
const TOKEN = "reader-token-0123456789abcdef";

let daemon: SecureDaemon;
let transport: StowdTransport;
const lines: Array<Record<string, unknown>> = [];
let restore: () => void;

beforeAll(async () => {
  restore = redirectLog({ write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  setLogLevel("info");
  const tokenFile = writeTokenFile([
    { name: "reader", token: TOKEN, grants: [{ operations: ["read", "write"], prefixes: ["mem://b/team-a/"] }] },
  ]);
  daemon = await startSecureDaemon({ auth: { tokenFile } });
  transport = createStowdTransport({ baseUrl: daemon.grpcUrl, token: TOKEN });
});
afterAll(async () => {
  transport?.close();
  await daemon?.close();
  setLogLevel("warn");
  restore?.();
});

async function codeOf(call: Promise<unknown>): Promise<Code> {
  return call.then(
    () => expect.fail("expected PERMISSION_DENIED"),
    (err: unknown) => ConnectError.from(err).code,
  );
}

it("masks the password and bounds the reference on the denied line and on the call line alike", async () => {
  const raw = createClient(RawStoreService, transport);
  const denied = `mem://alice:${SECRET}@b/team-b/obj`;
  async function* frames() {
    yield { body: { case: "header" as const, value: { reference: `mem://bob:${SECRET}@b/team-b/w` } } };
    yield { body: { case: "chunk" as const, value: new Uint8Array(3) } };
  }
  expect(await codeOf(raw.head({ reference: denied }))).toBe(Code.PermissionDenied);
  expect(await codeOf(raw.writeRaw(frames()))).toBe(Code.PermissionDenied);
  // A hostile reference: the password sits before a 50 KB key (unary requests are capped at 64 KiB).
  const long = `mem://carol:${SECRET}@b/team-b/${"k".repeat(50_000)}`;
  expect(await codeOf(raw.head({ reference: long }))).toBe(Code.PermissionDenied);

  const deniedLines = lines.filter((l) => l.msg === "call denied");
  const callLines = lines.filter((l) => l.msg === "call");
  expect(deniedLines).toHaveLength(3);
  expect(deniedLines.map((l) => l.reference)).toEqual([
    "mem://alice:***@b/team-b/obj",
    "mem://bob:***@b/team-b/w",
    expect.stringMatching(/^mem:\/\/carol:\*\*\*@b\/team-b\/k+ \.\.\. \(\d+ bytes, truncated\)$/),
  ]);
  expect(String(deniedLines[0]?.reason)).toContain("may not read mem://alice:***@b/team-b/obj");
  expect(callLines.map((l) => l.reference)).toEqual(deniedLines.map((l) => l.reference));
  for (const line of [...deniedLines, ...callLines]) {
    expect(Buffer.byteLength(String(line.reference))).toBeLessThanOrEqual(1024);
    expect(Buffer.byteLength(String(line.reason ?? line.error))).toBeLessThanOrEqual(1024);
  }
  expect(JSON.stringify(lines)).not.toContain(SECRET);
});
