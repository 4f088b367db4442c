// /readyz: 200 with per-scheme status JSON when every configured backend
// answers its probe, 503 when one is down (a failed dial, an error, no answer
// within server.readinessTimeout) or when the daemon is stopping; /healthz
// and grpc health do not depend on backends. Against a real Redis server,
// which the probe dials lazily and which is then stopped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StowdError } from "../../common/errors.js";
import { builtBackend, createSchemeRouter, type Backend } from "../../server/decorators/scheme-router.js";
import { createReadiness, type Readiness } from "../../server/assembly/readiness.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import type { RawStore } from "../../server/stores/raw-store.js";
import { createRedisStore } from "../../server/stores/redis/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { startRedisServer, type RedisServer } from "../servers/redis.js";

const memory = createMemoryStore();
const capabilities = memory.capabilities;

/** A backend whose first use fails the way an unreachable cloud endpoint does. */
const unreachable: Backend = {
  kind: "s3",
  capabilities,
  baseContainerReference: "s3://bucket",
  identity: (ref) => memory.identity(ref),
  create: () =>
    Promise.reject(new StowdError("BACKEND_UNAVAILABLE", "the s3 backend is unreachable: connect ECONNREFUSED 127.0.0.1:9", {})),
};
/** A backend that never answers. */
const hanging: Backend = {
  kind: "gcs",
  capabilities,
  baseContainerReference: "gs://bucket",
  identity: (ref) => memory.identity(ref),
  create: async () => ({ ...memory, kind: "gcs", list: () => new Promise<never>(() => {}) }) satisfies RawStore,
};

async function readyz(daemon: TestDaemon): Promise<{ status: number; body: Readiness }> {
  const res = await fetch(`${daemon.httpUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness };
}

describe("with a real Redis", () => {
  let redis: RedisServer;
  let daemon: TestDaemon;
  let built = 0;
  beforeAll(async () => {
    redis = await startRedisServer();
    daemon = await startTestDaemon({
      readinessTimeoutMs: 500,
      backends: {
        redis: {
          ...builtBackend(createRedisStore({ addr: redis.addr, retry: { attempts: 1 } }), `redis://${redis.addr}`),
          create: async () => {
            built++;
            return createRedisStore({ addr: redis.addr, retry: { attempts: 1 } });
          },
        },
      },
    });
  });
  afterAll(async () => {
    await daemon?.close();
    await redis?.stop();
  });

  it("is ready when every backend answers, building lazy backends once", async () => {
    expect(built).toBe(0);
    const { status, body } = await readyz(daemon);
    expect(status).toBe(200);
    expect(body.ready).toBe(true);
    expect(body.stopping).toBe(false);
    expect(Object.keys(body.backends).sort()).toEqual(["file", "mem", "redis"]);
    expect(body.backends.redis).toMatchObject({ kind: "redis", status: "up", probe: `redis://${redis.addr}` });
    expect(body.backends.file).toMatchObject({ kind: "local", status: "up", probe: "file://" });
    expect(body.backends.mem).toMatchObject({ kind: "memory", status: "up" });
    await readyz(daemon);
    expect(built).toBe(1);
  });

  it("turns 503 when Redis goes away, while /healthz stays 200", async () => {
    await redis.stop();
    const { status, body } = await readyz(daemon);
    expect(status).toBe(503);
    expect(body.ready).toBe(false);
    expect(body.backends.redis?.status).toBe("down");
    expect(body.backends.redis?.error).toBeTruthy();
    expect(body.backends.mem?.status).toBe("up");
    expect((await fetch(`${daemon.httpUrl}/healthz`)).status).toBe(200);
  });
});

describe("backends that fail", () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startTestDaemon({
      readinessTimeoutMs: 300,
      backends: { s3: unreachable, gs: hanging, abfs: { ...builtBackend(createMemoryStore()), kind: "azure", baseContainerReference: "" } },
    });
  });
  afterAll(async () => {
    await daemon?.close();
  });

  it("reports a failed dial and a probe without an answer as down, a cloud backend without a container as unchecked", async () => {
    const started = Date.now();
    const { status, body } = await readyz(daemon);
    expect(status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(body.backends.s3).toMatchObject({ status: "down", error: "the s3 backend is unreachable: connect ECONNREFUSED 127.0.0.1:9" });
    expect(body.backends.gs).toMatchObject({ status: "down", error: "no answer within 300ms (server.readinessTimeout)" });
    expect(body.backends.abfs).toMatchObject({ kind: "azure", status: "unchecked" });
    expect(body.backends.mem?.status).toBe("up");
  });
});

it("fails readiness first once a stop begins", async () => {
  let stopping = false;
  const router = createSchemeRouter({ mem: builtBackend(createMemoryStore()) });
  const readiness = createReadiness({ router, timeoutMs: 1000, isStopping: () => stopping });
  expect((await readiness.check()).ready).toBe(true);
  stopping = true;
  expect(await readiness.check()).toEqual({ ready: false, stopping: true, backends: {} });
});
