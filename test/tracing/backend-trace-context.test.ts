// W3C traceparent from the daemon to the backends whose SDKs can send it,
// with tracing on: GCS (a request interceptor; seen by our GCS test server)
// and Azure Blob (a pipeline policy; seen by a recording proxy in front of
// azurite), for single-shot and chunked writes, reads, heads and lists. (S3:
// daemon-spans.test.ts, through a proxy in front of Ceph. Redis has no
// request headers to carry it.) Tracing is started in this test process as
// the daemon starts it (observability/tracing.ts), exporting to a receiver
// here, and each store is traced as the store tree traces it.
import type { Tracer } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTracing } from "../../server/decorators/traced-store.js";
import { setLogLevel } from "../../server/observability/log.js";
import { daemonTracer, startTracing, type StartedTracing } from "../../server/observability/tracing.js";
import { createAzureStore } from "../../server/stores/azure/index.js";
import { createGcsStore } from "../../server/stores/gcs/index.js";
import type { RawStore } from "../../server/stores/raw-store.js";
import { put, readAll, ref } from "../decorators/store-helpers.js";
import { never } from "../helpers/store-calls.js";
import { startAzurite, type Azurite } from "../servers/azurite.js";
import { startGcsTestServer, type GcsTestServer } from "../servers/gcs-test-server.js";
import { startOtlpReceiver, type OtlpReceiver } from "./otlp-receiver.js";
import { startRecordingProxy, type RecordingProxy } from "./recording-proxy.js";

const BUCKET = "traced";
/** Above the stores' single-request size below: written in chunks (GCS resumable, Azure staged blocks). */
const CHUNKED_BYTES = 600 * 1024;
const OTEL_ENV = { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_BSP_SCHEDULE_DELAY: "20" };

let receiver: OtlpReceiver;
let tracing: StartedTracing | undefined;
let tracer: Tracer;
let gcs: GcsTestServer;
let azurite: Azurite;
let proxy: RecordingProxy;

beforeAll(async () => {
  if (process.env.STOWD_LOG_LEVEL === undefined) setLogLevel("warn");
  receiver = await startOtlpReceiver();
  // NodeSDK reads process.env, as in the daemon.
  Object.assign(process.env, OTEL_ENV, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
  tracing = await startTracing(process.env);
  const started = daemonTracer();
  if (started === undefined) throw new Error("tracing did not start with OTEL_EXPORTER_OTLP_ENDPOINT set");
  tracer = started;
  [gcs, azurite] = await Promise.all([startGcsTestServer({ buckets: [BUCKET] }), startAzurite({ container: BUCKET })]);
  proxy = await startRecordingProxy(new URL(azurite.blobUrl).origin);
}, 60_000);

afterAll(async () => {
  await tracing?.shutdown();
  for (const name of [...Object.keys(OTEL_ENV), "OTEL_EXPORTER_OTLP_ENDPOINT"]) delete process.env[name];
  await Promise.all([gcs?.close(), azurite?.stop(), proxy?.close(), receiver?.close()]);
});

/** Writes (one-shot and chunked), reads, heads and lists under a parent span; returns its trace id. */
async function exercise(store: RawStore, scheme: string): Promise<string> {
  return tracer.startActiveSpan("test operations", async (span) => {
    try {
      await put(store, ref("small.txt", scheme, BUCKET), "small");
      await put(store, ref("large.bin", scheme, BUCKET), Buffer.alloc(CHUNKED_BYTES, 1));
      expect((await readAll(store, ref("small.txt", scheme, BUCKET))).toString()).toBe("small");
      expect(await store.head(ref("large.bin", scheme, BUCKET), never)).toMatchObject({ size: CHUNKED_BYTES });
      expect((await store.list(ref("", scheme, BUCKET), { pageSize: 10, pageToken: "", delimiter: "" }, never)).objects).toHaveLength(2);
    } finally {
      span.end();
    }
    return span.spanContext().traceId;
  });
}

describe("traceparent to the backend", () => {
  it("reaches GCS on every request", async () => {
    const store = withTracing(
      createGcsStore({ apiEndpoint: gcs.endpoint, projectId: "stowd-test", singleRequestMaxBytes: 256 * 1024 }),
      tracer,
    );
    const before = gcs.requests.length;
    const traceId = await exercise(store, "gs");
    const sent = gcs.requests.slice(before);
    expect(sent.some((r) => r.query.uploadType === "resumable")).toBe(true);
    expect(sent.filter((r) => r.traceparent?.split("-")[1] !== traceId)).toEqual([]);
  });

  it("reaches Azure Blob on every request", async () => {
    const store = withTracing(
      createAzureStore({
        account: azurite.account,
        key: azurite.key,
        endpoint: `${proxy.endpoint}/${azurite.account}`,
        blockSizeBytes: 256 * 1024,
      }),
      tracer,
    );
    const before = proxy.requests.length;
    const traceId = await exercise(store, "abfs");
    const sent = proxy.requests.slice(before);
    expect(sent.some((r) => r.path.includes("comp=block"))).toBe(true);
    expect(sent.filter((r) => String(r.headers.traceparent).split("-")[1] !== traceId).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });
});
