// The conformance suite through the scheme router, with memory and a real
// redis-server behind it: what a daemon configured with `redis.addr` serves.
import { afterAll, beforeAll } from "vitest";
import { builtBackend, createSchemeRouter, type SchemeRouter } from "../../server/decorators/scheme-router.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import { createRedisStore } from "../../server/stores/redis/index.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { startRedisServer, type RedisServer } from "../servers/redis.js";

let redis: RedisServer | undefined;
let router: SchemeRouter | undefined;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await router?.close();
  await redis?.stop();
});

function routerOverMemoryAndRedis(): SchemeRouter {
  if (redis === undefined) throw new Error("redis-server did not start; run `bash scripts/install-test-servers.sh`");
  router ??= createSchemeRouter({ mem: builtBackend(createMemoryStore()), redis: builtBackend(createRedisStore({ addr: redis.addr })) });
  return router;
}

describeRawStoreConformance("router(memory+redis) on mem://", {
  create: async () => ({ store: routerOverMemoryAndRedis(), scheme: "mem", container: "conformance" }),
  awkwardKeys: "accept-all",
});

describeRawStoreConformance("router(memory+redis) on redis://", {
  create: async () => ({ store: routerOverMemoryAndRedis(), scheme: "redis", container: "advisory:6379" }),
  awkwardKeys: "accept-all",
});
