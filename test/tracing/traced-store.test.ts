// The traced decorator (server/decorators/traced-store.ts): the conformance
// suite through it, and its spans — one CLIENT span per operation, active
// while the backend works (also while a read's body streams, where backends
// fetch lazily), a read's span ending with its body or its close(), and an
// error status only for backend faults.
import { context, SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { StowdError } from "../../common/errors.js";
import { withTracing } from "../../server/decorators/traced-store.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import type { RawStore } from "../../server/stores/raw-store.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { bodyOf, never, put, readAll, ref } from "../decorators/store-helpers.js";

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const tracer = provider.getTracer("traced-store-test");
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(async () => {
  context.disable();
  await provider.shutdown();
});

describeRawStoreConformance("traced(memory)", {
  create: async () => ({ store: withTracing(createMemoryStore(), tracer), scheme: "mem", container: "conformance" }),
  awkwardKeys: "accept-all",
});

/** The finished spans named `name`. */
const finished = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);

describe("traced store", () => {
  beforeEach(() => exporter.reset());

  it("ends a read's span when its body ends, with the backend, scheme, op and bytes", async () => {
    const store = withTracing(createMemoryStore(), tracer);
    await put(store, ref("k"), "hello");
    const opened = await store.read(ref("k"), {}, never);
    expect(finished("memory read")).toEqual([]);
    const chunks: Uint8Array[] = [];
    for await (const chunk of opened.body) chunks.push(chunk);
    expect(Buffer.concat(chunks).toString()).toBe("hello");
    const [span] = finished("memory read");
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.attributes).toEqual({ "stowd.backend": "memory", "stowd.scheme": "mem", "stowd.op": "read", "stowd.bytes": 5 });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(finished("memory write")).toHaveLength(1);
  });

  it("ends a read's span once when the read is abandoned: closed unread, or left mid-body", async () => {
    const store = withTracing(createMemoryStore(), tracer);
    await put(store, ref("k"), "hello");
    const unread = await store.read(ref("k"), {}, never);
    await unread.close();
    await unread.close();
    expect(finished("memory read")).toHaveLength(1);
    const partly = await store.read(ref("k"), {}, never);
    for await (const chunk of partly.body) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    await partly.close();
    expect(finished("memory read")).toHaveLength(2);
  });

  it("is the active span while the backend works, the read's body included", async () => {
    const seen: Array<Span | undefined> = [];
    const memory = createMemoryStore();
    const watched: RawStore = {
      ...memory,
      head: (r, s) => (seen.push(trace.getActiveSpan()), memory.head(r, s)),
      async read(r, o, s) {
        const opened = await memory.read(r, o, s);
        return {
          ...opened,
          body: (async function* () {
            seen.push(trace.getActiveSpan());
            yield* opened.body;
          })(),
        };
      },
    };
    const store = withTracing(watched, tracer);
    await put(store, ref("k"), "x");
    await store.head(ref("k"), never);
    expect((await readAll(store, ref("k"))).toString()).toBe("x");
    const ids = seen.map((s) => s?.spanContext().spanId);
    expect(ids).toEqual([finished("memory head")[0]?.spanContext().spanId, finished("memory read")[0]?.spanContext().spanId]);
  });

  it("marks backend faults as errors and leaves answers (NOT_FOUND) unset", async () => {
    const memory = createMemoryStore();
    const failing: RawStore = {
      ...memory,
      write: () => Promise.reject(new StowdError("BACKEND_UNAVAILABLE", "mem://b/k: the backend is down")),
    };
    const store = withTracing(failing, tracer);
    await expect(
      store.write(ref("k"), bodyOf(Buffer.from("x")), { contentType: "", metadata: {}, preconditions: {} }, never),
    ).rejects.toThrow(/down/);
    await expect(store.read(ref("missing"), {}, never)).rejects.toMatchObject({ reason: "NOT_FOUND" });
    const [write] = finished("memory write");
    expect(write?.status).toEqual({ code: SpanStatusCode.ERROR, message: "mem://b/k: the backend is down" });
    expect(write?.attributes["stowd.error.reason"]).toBe("BACKEND_UNAVAILABLE");
    const [read] = finished("memory read");
    expect(read?.status.code).toBe(SpanStatusCode.UNSET);
    expect(read?.attributes["stowd.error.reason"]).toBe("NOT_FOUND");
  });
});
