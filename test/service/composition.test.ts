// The composed daemon: download limit and cache in front of the stores,
// seen through the SDK, with metrics scraped from /metrics after known
// traffic.
import { DurationSchema, durationFromMs } from "@bufbuild/protobuf/wkt";
import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createStowdClient, ErrorReason, type StowdClient } from "../../client/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { rawStoreClient } from "../helpers/proto-loader-client.js";
import { clientRejection } from "../helpers/rejections.js";

const MiB = 1024 * 1024;
let daemon: TestDaemon;
let client: StowdClient;

beforeAll(async () => {
  daemon = await startTestDaemon({ maxDownloadMBs: 1, cacheMbs: 64 });
  client = createStowdClient({ baseUrl: daemon.grpcUrl });
});
afterAll(async () => {
  client?.close();
  await daemon?.close();
});

describe("download limit through the daemon", () => {
  it("serves exactly maxDownloadMBs and rejects one byte more before sending anything", async () => {
    await client.write("mem://b/exact", new Uint8Array(MiB));
    await client.write("mem://b/over", new Uint8Array(MiB + 1));
    expect((await client.readBytes("mem://b/exact")).length).toBe(MiB);
    const err = await clientRejection(client.read("mem://b/over"));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.reason).toBe(ErrorReason.LIMIT_EXCEEDED);
    expect(err.message).toContain("limit exceeded. 1.000001mb > 1mb. You can increase the limit by setting maxDownloadMBs.");
    expect(err.detail?.size).toBe(BigInt(MiB + 1));
    expect(err.detail?.limit).toBe(BigInt(MiB));

    // A client without the SDK sees no message at all before the error.
    const raw = rawStoreClient(daemon.grpcAddress);
    try {
      const messages = await new Promise<number>((resolve) => {
        let count = 0;
        const call = (raw.ReadRaw as (req: object) => grpc.ClientReadableStream<unknown>)({ reference: "mem://b/over" });
        call.on("data", () => count++);
        call.on("error", () => resolve(count));
      });
      expect(messages).toBe(0);
    } finally {
      raw.close();
    }
  });

  it("limits a range by the bytes it asks for", async () => {
    await client.write("mem://b/big", new Uint8Array(3 * MiB));
    expect((await client.readBytes("mem://b/big", { range: { suffixLength: MiB } })).length).toBe(MiB);
    expect((await clientRejection(client.read("mem://b/big", { range: { offset: 0, length: MiB + 1 } }))).code).toBe(
      Code.ResourceExhausted,
    );
  });

  it("applies to ReadProtobuf too, but not to copies", async () => {
    await client.write("mem://b/big.pb", new Uint8Array(2 * MiB));
    expect((await clientRejection(client.readProtobuf("mem://b/big.pb", DurationSchema))).code).toBe(Code.ResourceExhausted);
    const copied = await client.copy("mem://b/big", "file://b/big-copy");
    expect(copied.size).toBe(3 * MiB);
  });

  it("serves small objects from the cache with their full info", async () => {
    const info = await client.writeProtobuf("mem://b/small.pb", DurationSchema, durationFromMs(1500));
    for (let i = 0; i < 3; i++) {
      const { message, info: read } = await client.readProtobuf("mem://b/small.pb", DurationSchema);
      expect(message.seconds).toBe(1n);
      expect(read.etag).toBe(info.etag);
    }
  });
});

describe("/metrics", () => {
  function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
    for (const line of text.split("\n")) {
      if (!line.startsWith(`${name}{`)) continue;
      const body = line.slice(name.length + 1, line.indexOf("}"));
      const found = Object.fromEntries(body.split(",").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 2, -1)]));
      if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return undefined;
  }

  it("counts RPCs, store operations, cache and limit events by label, never by key", async () => {
    for (let i = 0; i < 3; i++) await client.head("mem://b/metrics-missing");
    await clientRejection(client.read("mem://b/over"));
    const res = await fetch(`${daemon.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const head = { grpc_type: "unary", grpc_service: "stowd.v1.RawStoreService", grpc_method: "Head" };
    expect(sample(text, "grpc_server_started_total", head)).toBeGreaterThanOrEqual(3);
    expect(sample(text, "grpc_server_handled_total", { ...head, grpc_code: "OK" })).toBeGreaterThanOrEqual(3);
    expect(
      sample(text, "grpc_server_handled_total", { grpc_type: "server_stream", grpc_method: "ReadRaw", grpc_code: "ResourceExhausted" }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, "grpc_server_handling_seconds_count", head)).toBeGreaterThanOrEqual(3);
    expect(
      sample(text, "stowd_store_operations_total", { backend: "memory", scheme: "mem", op: "head", code: "OK" }),
    ).toBeGreaterThanOrEqual(3);
    // Store operations are metered once, at the backend: no decorator layer counts them again, and no label says which layer.
    expect(text).not.toMatch(/^stowd_store_operations_total\{[^}]*node=/m);
    expect(sample(text, "stowd_store_written_bytes_total", { backend: "memory", scheme: "mem" })).toBeGreaterThan(MiB);
    expect(sample(text, "stowd_store_read_bytes_total", { backend: "memory", scheme: "mem" })).toBeGreaterThan(0);
    expect(sample(text, "stowd_layer_outcomes_total", { layer: "cache", outcome: "hit" })).toBeGreaterThan(0);
    expect(sample(text, "stowd_layer_outcomes_total", { layer: "cache", outcome: "miss" })).toBeGreaterThan(0);
    expect(text).toMatch(/^stowd_cache_entries \d+/m);
    expect(sample(text, "stowd_layer_outcomes_total", { layer: "download_limit", outcome: "refused" })).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).not.toContain("metrics-missing");
    expect(text).not.toMatch(/reference=|key=/);
  });
});
