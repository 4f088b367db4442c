// Many calls at once on either port: every call links its signal to the
// listener's shutdown signal, which warned (MaxListenersExceededWarning)
// beyond 10 calls in progress, although each call stops listening when it ends.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";

let daemon: TestDaemon;
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(w.name);

beforeAll(async () => {
  process.on("warning", onWarning);
  daemon = await startTestDaemon();
});
afterAll(async () => {
  process.off("warning", onWarning);
  await daemon?.close();
});

it("serves 50 concurrent calls per port without a listener-leak warning", async () => {
  for (const baseUrl of [daemon.grpcUrl, daemon.httpUrl]) {
    const client = createClient(RawStoreService, createGrpcTransport({ baseUrl }));
    const heads = await Promise.all(Array.from({ length: 50 }, (_, i) => client.head({ reference: `mem://b/k${i}` })));
    expect(heads.every((h) => !h.exists)).toBe(true);
  }
  await new Promise((resolve) => setTimeout(resolve, 100)); // warnings are emitted on the next tick
  expect(warnings).not.toContain("MaxListenersExceededWarning");
});
