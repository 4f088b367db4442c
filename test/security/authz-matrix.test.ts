// The authorization matrix: every RPC x every operation grant x a reference
// inside / outside the grant's prefix, through both listeners (the gRPC port
// over grpc-js and the HTTP port over Connect), against a real daemon with a
// token file. Plus: no token / wrong token, references that try to slip past
// a prefix, CopyRaw's two references, one log line per denied call, and a
// token file reload.
import { writeFileSync } from "node:fs";
import { StringValueSchema, anyPack } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { redirectLog } from "../../server/observability/log.js";
import { createStowdTransport, type StowdTransport } from "../../client/transport.js";
import { ProtobufStoreService } from "../../gen/stowd/v1/protobuf_store_pb.js";
import { RawStoreService, SignedUrlMethod } from "../../gen/stowd/v1/raw_store_pb.js";
import { startSecureDaemon, writeTokenFile, type SecureDaemon, type TokenSpec } from "./secure-daemon.js";

const OPS = ["read", "write", "list", "delete", "sign", "admin"] as const;
type Op = (typeof OPS)[number];
const tokenOf = (op: string) => `token-for-${op}-0123456789abcdef`;
const TOKENS: TokenSpec[] = OPS.map((op) => ({
  name: `only-${op}`,
  token: tokenOf(op),
  grants: [{ operations: [op], prefixes: ["mem://b/team-a/"] }],
}));
TOKENS.push({ name: "setup", token: "setup-token-0123456789abcdef", grants: [{ operations: ["admin"], prefixes: ["*"] }] });

interface Clients {
  raw: Client<typeof RawStoreService>;
  pb: Client<typeof ProtobufStoreService>;
}

/** A reference in the grant (team-a) or outside it (team-b). */
const ref = (inside: boolean, key = "obj") => `mem://b/${inside ? "team-a" : "team-b"}/${key}`;
const bytes = new TextEncoder().encode("hello");

async function* frames<H>(header: H) {
  yield { body: { case: "header" as const, value: header } };
  yield { body: { case: "chunk" as const, value: bytes } };
}

interface RpcCase {
  rpc: string;
  /** Operations the call needs; [] = any authenticated caller. */
  needs: Op[];
  call(c: Clients, inside: boolean): Promise<unknown>;
}

const CASES: RpcCase[] = [
  {
    rpc: "ReadRaw",
    needs: ["read"],
    call: async (c, i) => {
      for await (const _ of c.raw.readRaw({ reference: ref(i) })) void _;
    },
  },
  { rpc: "Head", needs: ["read"], call: (c, i) => c.raw.head({ reference: ref(i) }) },
  { rpc: "WriteRaw", needs: ["write"], call: (c, i) => c.raw.writeRaw(frames({ reference: ref(i, "w") })) },
  { rpc: "Append", needs: ["write"], call: (c, i) => c.raw.append(frames({ reference: ref(i, "a"), createIfMissing: true })) },
  { rpc: "List", needs: ["list"], call: (c, i) => c.raw.list({ reference: ref(i, "") }) },
  { rpc: "Delete", needs: ["delete"], call: (c, i) => c.raw.delete({ reference: ref(i, "gone"), allowMissing: true }) },
  { rpc: "DeletePrefix", needs: ["delete"], call: (c, i) => c.raw.deletePrefix({ reference: ref(i, "tmp/") }) },
  {
    rpc: "CopyRaw",
    needs: ["read", "write"],
    call: (c, i) => c.raw.copyRaw({ sourceReference: ref(i), destinationReference: ref(i, "copy") }),
  },
  {
    rpc: "CreateSignedUrl GET",
    needs: ["sign", "read"],
    call: (c, i) => c.raw.createSignedUrl({ reference: ref(i), method: SignedUrlMethod.GET, expiresIn: { seconds: 60n } }),
  },
  {
    rpc: "CreateSignedUrl PUT",
    needs: ["sign", "write"],
    call: (c, i) => c.raw.createSignedUrl({ reference: ref(i), method: SignedUrlMethod.PUT, expiresIn: { seconds: 60n } }),
  },
  { rpc: "ConstructReference", needs: [], call: (c, i) => c.raw.constructReference({ baseReference: ref(i, ""), nestedKeys: ["x"] }) },
  { rpc: "SplitReference", needs: [], call: (c, i) => c.raw.splitReference({ reference: ref(i) }) },
  { rpc: "GetServerInfo", needs: [], call: (c) => c.raw.getServerInfo({}) },
  {
    rpc: "WriteProtobuf",
    needs: ["write"],
    call: (c, i) =>
      c.pb.writeProtobuf({ reference: ref(i, "m.pb"), message: anyPack(StringValueSchema, create(StringValueSchema, { value: "v" })) }),
  },
  { rpc: "ReadProtobuf", needs: ["read"], call: (c, i) => c.pb.readProtobuf({ reference: ref(i, "m.pb") }) },
];

async function codeOf(p: Promise<unknown>): Promise<{ code: Code | "OK"; message: string }> {
  try {
    await p;
    return { code: "OK", message: "" };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, message: e.rawMessage };
  }
}

let daemon: SecureDaemon;
let tokenFile: string;
const transports: StowdTransport[] = [];
const LISTENERS = {
  "gRPC port (grpc-js)": (token?: string) => createStowdTransport({ baseUrl: daemon.grpcUrl, ...(token === undefined ? {} : { token }) }),
  "HTTP port (Connect, HTTP/1.1)": (token?: string) =>
    createStowdTransport({ baseUrl: daemon.httpUrl, protocol: "connect", httpVersion: "1.1", ...(token === undefined ? {} : { token }) }),
};
function clients(listener: keyof typeof LISTENERS, token?: string): Clients {
  const t = LISTENERS[listener](token);
  transports.push(t);
  return { raw: createClient(RawStoreService, t), pb: createClient(ProtobufStoreService, t) };
}

beforeAll(async () => {
  tokenFile = writeTokenFile(TOKENS);
  daemon = await startSecureDaemon({ auth: { tokenFile } });
  // Objects to read and copy, inside and outside the grants.
  const setup = clients("gRPC port (grpc-js)", "setup-token-0123456789abcdef");
  for (const inside of [true, false]) {
    await setup.raw.writeRaw(frames({ reference: ref(inside) }));
    await setup.pb.writeProtobuf({
      reference: ref(inside, "m.pb"),
      message: anyPack(StringValueSchema, create(StringValueSchema, { value: "v" })),
    });
  }
});
afterAll(async () => {
  for (const t of transports) t.close();
  await daemon?.close();
});

describe.each(Object.keys(LISTENERS) as Array<keyof typeof LISTENERS>)("%s", (listener) => {
  it.each(CASES.map((c) => [c.rpc, c] as const))("%s: each grant, inside and outside its prefix", async (_name, rpcCase) => {
    const rows: string[] = [];
    for (const op of OPS) {
      const c = clients(listener, tokenOf(op));
      for (const inside of [true, false]) {
        const { code, message } = await codeOf(rpcCase.call(c, inside));
        const granted = op === "admin" || rpcCase.needs.every((n) => n === op);
        const allowed = rpcCase.needs.length === 0 || (granted && inside);
        if (allowed) {
          expect(
            [Code.PermissionDenied, Code.Unauthenticated],
            `${rpcCase.rpc} by only-${op} ${inside ? "inside" : "outside"}: ${message}`,
          ).not.toContain(code);
        } else {
          expect(code, `${rpcCase.rpc} by only-${op} ${inside ? "inside" : "outside"}`).toBe(Code.PermissionDenied);
          // Names the caller, the operation refused and the reference; never the token.
          const missing = op === "admin" ? undefined : (rpcCase.needs.find((n) => n !== op) ?? rpcCase.needs[0]);
          expect(message).toContain(`only-${op}`);
          if (missing !== undefined && inside) expect(message).toContain(` may not ${missing} `);
          expect(message).toMatch(/mem:\/\/b\/team-[ab]\//);
          expect(message).not.toContain(tokenOf(op));
        }
        rows.push(`${op}/${inside ? "in" : "out"}=${code === "OK" ? "OK" : Code[code]}`);
      }
    }
    // Calls that pass authorization reach the store: a sample of real results.
    if (rpcCase.rpc === "Head") expect(rows).toContain("read/in=OK");
    if (rpcCase.rpc === "WriteRaw") expect(rows).toContain("write/in=OK");
    if (rpcCase.rpc === "CopyRaw") expect(rows).toContain("admin/in=OK");
    if (rpcCase.rpc === "CreateSignedUrl GET") expect(rows).toContain("admin/in=Unimplemented"); // mem:// cannot sign
  });

  it("tells each caller, in GetServerInfo, its name and grants (never its token)", async () => {
    for (const op of OPS) {
      const info = await clients(listener, tokenOf(op)).raw.getServerInfo({});
      expect(info.caller?.authEnabled).toBe(true);
      expect(info.caller?.name).toBe(`only-${op}`);
      expect(info.caller?.grants.map((g) => ({ operations: g.operations, prefixes: g.prefixes }))).toEqual([
        { operations: [op], prefixes: ["mem://b/team-a/"] },
      ]);
      expect(JSON.stringify(info.caller)).not.toContain(tokenOf(op));
    }
  });

  it("refuses every RPC without a token, or with a wrong or malformed one, as UNAUTHENTICATED", async () => {
    const anonymous = clients(listener);
    const wrong = clients(listener, "not-a-known-token-0123456789");
    const malformed = createClient(RawStoreService, LISTENERS[listener]());
    for (const rpcCase of CASES) {
      const none = await codeOf(rpcCase.call(anonymous, true));
      expect(none.code, rpcCase.rpc).toBe(Code.Unauthenticated);
      expect(none.message).toContain("authorization: Bearer <token>");
      const bad = await codeOf(rpcCase.call(wrong, true));
      expect(bad.code, rpcCase.rpc).toBe(Code.Unauthenticated);
      expect(bad.message).not.toContain("not-a-known-token");
    }
    const basic = await codeOf(malformed.head({ reference: ref(true) }, { headers: { authorization: "Basic dXNlcjpwYXNz" } }));
    expect(basic.code).toBe(Code.Unauthenticated);
    expect(basic.message).toContain('"Bearer <token>"');
  });

  it("checks the parsed reference, so nothing slips past a prefix", async () => {
    const reader = clients(listener, tokenOf("read"));
    const lister = clients(listener, tokenOf("list"));
    const head = (reference: string) => codeOf(reader.raw.head({ reference }));
    expect((await head("mem://b/team-a/../team-b/obj")).code).toBe(Code.InvalidArgument);
    expect((await head("mem://b/team-a/%2E%2E/team-b/obj")).code).toBe(Code.InvalidArgument);
    expect((await head("mem://b/team-a%2F..%2Fteam-b/obj")).code).toBe(Code.InvalidArgument);
    expect((await head("mem://b/team-ab/obj")).code).toBe(Code.PermissionDenied);
    expect((await head("mem://c/team-a/obj")).code).toBe(Code.PermissionDenied);
    expect((await head("s3://b/team-a/obj")).code).toBe(Code.PermissionDenied);
    expect((await head("mem://b/team-a")).code).toBe(Code.PermissionDenied);
    // Spellings that parse to a key inside the prefix are the same object to the store too.
    expect((await head("MEM://b/team-a/obj")).code).toBe("OK");
    expect((await head("mem://b//team-a/obj")).code).toBe("OK");
    expect((await head("mem://b/team-%61/obj")).code).toBe("OK");
    // A listing prefix without the slash would also list team-ab/.
    expect((await codeOf(lister.raw.list({ reference: "mem://b/team-a" }))).code).toBe(Code.PermissionDenied);
    expect((await codeOf(lister.raw.list({ reference: "mem://b/" }))).code).toBe(Code.PermissionDenied);
    expect((await codeOf(lister.raw.list({ reference: "mem://b/team-a/sub" }))).code).toBe("OK");
  });

  it("CopyRaw needs read on the source and write on the destination", async () => {
    const t = writeTokenFile([
      {
        name: "copier",
        token: "copier-token-0123456789abcdef",
        grants: [
          { operations: ["read"], prefixes: ["mem://b/team-b/"] },
          { operations: ["write"], prefixes: ["mem://b/team-a/"] },
        ],
      },
    ]);
    const d = await startSecureDaemon({ auth: { tokenFile: t } });
    try {
      const url = listener.startsWith("gRPC") ? d.grpcUrl : d.httpUrl;
      const tr = createStowdTransport({
        baseUrl: url,
        token: "copier-token-0123456789abcdef",
        ...(listener.startsWith("gRPC") ? {} : { protocol: "connect" as const, httpVersion: "1.1" as const }),
      });
      transports.push(tr);
      const raw = createClient(RawStoreService, tr);
      const ok = await codeOf(raw.copyRaw({ sourceReference: ref(false), destinationReference: ref(true, "c") }));
      expect(ok.code).toBe(Code.NotFound); // authorized; this daemon's store is empty
      const wrongWay = await codeOf(raw.copyRaw({ sourceReference: ref(true), destinationReference: ref(false, "c") }));
      expect(wrongWay.code).toBe(Code.PermissionDenied);
      expect(wrongWay.message).toContain("may not read mem://b/team-a/obj (source_reference)");
      const noWrite = await codeOf(raw.copyRaw({ sourceReference: ref(false), destinationReference: ref(false, "c") }));
      expect(noWrite.message).toContain("may not write mem://b/team-b/c (destination_reference)");
    } finally {
      await d.close();
    }
  });
});

describe("denials are logged", () => {
  it("writes one warn line per denied call, naming the caller but never the token", async () => {
    const lines: string[] = [];
    const restore = redirectLog({ write: (line: string) => void lines.push(line) });
    onTestFinished(restore);
    const c = clients("gRPC port (grpc-js)", tokenOf("read"));
    const anonymous = clients("HTTP port (Connect, HTTP/1.1)");
    await codeOf(c.raw.head({ reference: ref(false) }));
    await codeOf(c.raw.writeRaw(frames({ reference: ref(true, "x") })));
    await codeOf(anonymous.raw.getServerInfo({}));
    await codeOf(c.raw.head({ reference: ref(true) })); // allowed: no line
    const denied = lines.filter((l) => l.includes('"call denied"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(denied.map((d) => [d.rpc, d.code, d.caller, d.reference])).toEqual([
      ["stowd.v1.RawStoreService/Head", "PERMISSION_DENIED", "only-read", "mem://b/team-b/obj"],
      ["stowd.v1.RawStoreService/WriteRaw", "PERMISSION_DENIED", "only-read", "mem://b/team-a/x"],
      ["stowd.v1.RawStoreService/GetServerInfo", "UNAUTHENTICATED", null, undefined],
    ]);
    expect(lines.join("")).not.toContain(tokenOf("read"));
  });
});

describe("token sources", () => {
  it("STOWD_AUTH_TOKEN is one token with every grant", async () => {
    const d = await startSecureDaemon({ auth: { token: "env-token-0123456789abcdef" } });
    try {
      const tr = createStowdTransport({ baseUrl: d.grpcUrl, token: "env-token-0123456789abcdef" });
      transports.push(tr);
      const raw = createClient(RawStoreService, tr);
      expect((await codeOf(raw.writeRaw(frames({ reference: "mem://any/where" })))).code).toBe("OK");
      expect((await codeOf(raw.deletePrefix({ reference: "mem://any/" }))).code).not.toBe(Code.PermissionDenied);
      const other = createClient(RawStoreService, createStowdTransport({ baseUrl: d.grpcUrl, token: "env-token-0123456789abcdeX" }));
      expect((await codeOf(other.head({ reference: "mem://any/where" }))).code).toBe(Code.Unauthenticated);
    } finally {
      await d.close();
    }
  });

  it("reload() re-reads the token file; a broken file keeps the old tokens", async () => {
    const file = writeTokenFile([
      { name: "old", token: "old-token-0123456789abcdef", grants: [{ operations: ["read"], prefixes: ["*"] }] },
    ]);
    const d = await startSecureDaemon({ auth: { tokenFile: file } });
    try {
      const head = (token: string) => {
        const tr = createStowdTransport({ baseUrl: d.grpcUrl, token });
        transports.push(tr);
        return codeOf(createClient(RawStoreService, tr).head({ reference: "mem://b/x" }));
      };
      expect((await head("old-token-0123456789abcdef")).code).toBe("OK");
      writeFileSync(file, "tokens:\n  - name: broken\n    sha256: not-hex\n");
      await expect(d.reload()).rejects.toThrow(/tokens\[0\]\.sha256: must be the 64 hex digits/);
      expect((await head("old-token-0123456789abcdef")).code).toBe("OK");
      writeTokenFile([{ name: "new", token: "new-token-0123456789abcdef", grants: [{ operations: ["read"], prefixes: ["*"] }] }], [], file);
      await d.reload();
      expect((await head("new-token-0123456789abcdef")).code).toBe("OK");
      expect((await head("old-token-0123456789abcdef")).code).toBe(Code.Unauthenticated);
    } finally {
      await d.close();
    }
  });
});
