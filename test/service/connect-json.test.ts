// The HTTP port as `curl` and browsers use it: Connect-protocol JSON over
// plain HTTP/1.1 with fetch, no client library.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";

let daemon: TestDaemon;
beforeAll(async () => {
  daemon = await startTestDaemon();
});
afterAll(async () => {
  await daemon?.close();
});

async function call(method: string, body: unknown, service = "stowd.v1.RawStoreService") {
  const res = await fetch(`${daemon.httpUrl}/${service}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("Connect JSON over HTTP/1.1", () => {
  it("answers /healthz", async () => {
    const res = await fetch(`${daemon.httpUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok\n");
  });

  it("answers Head for a missing object with exists=false", async () => {
    expect(await call("Head", { reference: "mem://b/missing" })).toEqual({ status: 200, json: {} });
  });

  it("stores and reads a protobuf message as JSON", async () => {
    const value = Buffer.from([0x08, 0x2a]).toString("base64"); // a message with field 1 = 42
    const written = await call(
      "WriteProtobuf",
      { reference: "mem://b/msg.pb", message: { "@type": "type.googleapis.com/google.protobuf.Int64Value", value: "42" } },
      "stowd.v1.ProtobufStoreService",
    );
    expect(written.status).toBe(200);
    const head = await call("Head", { reference: "mem://b/msg.pb" });
    expect(head.json).toMatchObject({
      exists: true,
      info: { reference: "mem://b/msg.pb", size: "2", metadata: { stowd_type_url: "type.googleapis.com/google.protobuf.Int64Value" } },
    });
    const read = await call("ReadProtobuf", { reference: "mem://b/msg.pb" }, "stowd.v1.ProtobufStoreService");
    expect(read.json).toMatchObject({ message: { "@type": "type.googleapis.com/google.protobuf.Int64Value", value: "42" } });
    expect(value).toBe("CCo=");
  });

  it("returns errors as Connect JSON with the code, message and stowd detail", async () => {
    const res = await call("ReadProtobuf", { reference: "mem://b/missing.pb" }, "stowd.v1.ProtobufStoreService");
    expect(res.status).toBe(404);
    expect(res.json.code).toBe("not_found");
    expect(String(res.json.message)).toContain("mem://b/missing.pb");
    const details = res.json.details as { type: string; debug?: { reason: string; reference: string } }[];
    expect(details[0]?.type).toBe("stowd.v1.ErrorDetail");
    expect(details[0]?.debug).toMatchObject({ reason: "ERROR_REASON_NOT_FOUND", reference: "mem://b/missing.pb" });
  });

  it("names the field of a bad argument", async () => {
    const res = await call("List", { reference: "mem://b/", pageSize: -1 });
    expect(res.status).toBe(400);
    expect(String(res.json.message)).toContain("page_size");
  });

  it("splits and constructs references", async () => {
    expect((await call("SplitReference", { reference: "s3://bucket/a/b/" })).json).toEqual({
      scheme: "s3",
      container: "bucket",
      key: "a/b",
    });
    expect((await call("ConstructReference", { baseReference: "s3://bucket", nestedKeys: ["x", "ü"] })).json).toEqual({
      reference: "s3://bucket/x/%C3%BC",
    });
  });

  it("rejects malformed JSON with a 400 and keeps serving", async () => {
    const res = await fetch(`${daemon.httpUrl}/stowd.v1.RawStoreService/Head`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect((await call("Head", { reference: "mem://b/x" })).status).toBe(200);
  });
});
