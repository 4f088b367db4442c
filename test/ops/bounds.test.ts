// Resource bounds through a real daemon, on both listeners: the upload
// limit and the message size limit store nothing; the concurrency limit,
// the idle-stream timeout and the default and maximum deadlines each end a
// call with a status naming the bound and its value.
import { readdir } from "node:fs/promises";
import * as http2 from "node:http2";
import { join } from "node:path";
import { BytesValueSchema } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ErrorReason } from "../../client/index.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { listenersOf, MiB, rejection, stalledBody, type Listener } from "./clients.js";

/** Every file under `dir`, relative, as a sorted list. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe("upload and message limits", () => {
  let daemon: TestDaemon;
  let listeners: Listener[];
  beforeAll(async () => {
    daemon = await startTestDaemon({ limits: { maxUploadBytes: MiB, maxMessageBytes: 2 * MiB } });
    listeners = listenersOf(daemon);
  });
  afterAll(async () => {
    for (const l of listeners ?? []) l.close();
    await daemon?.close();
  });

  for (const name of ["grpc port", "http port"] as const) {
    const listener = () => listeners.find((l) => l.name === name) as Listener;

    it(`${name}: an upload one byte over maxUploadMBs is RESOURCE_EXHAUSTED and stores nothing, declared or not`, async () => {
      const { client } = listener();
      const tag = name.replace(" ", "-");
      for (const scheme of ["mem", "file"]) {
        const before = scheme === "file" ? await filesUnder(daemon.localRoot) : [];
        // Declared size (the SDK declares a buffer's size): rejected from the header.
        const declared = await rejection(client.write(`${scheme}://b/${tag}-declared`, new Uint8Array(MiB + 1)));
        expect(declared.code).toBe(Code.ResourceExhausted);
        expect(declared.reason).toBe(ErrorReason.LIMIT_EXCEEDED);
        expect(declared.message).toContain("server.maxUploadMBs = 1");
        expect(declared.detail?.limit).toBe(BigInt(MiB));
        // No declared size: rejected while streaming, after a whole MiB went by.
        const streamed = await rejection(
          client.write(`${scheme}://b/${tag}-streamed`, stalledBody(new Uint8Array(MiB), Promise.resolve(new Uint8Array(1)))),
        );
        expect(streamed.code).toBe(Code.ResourceExhausted);
        expect(streamed.message).toContain(`exceeds the upload limit of ${MiB} bytes (server.maxUploadMBs = 1); nothing was stored`);
        expect(await client.head(`${scheme}://b/${tag}-declared`)).toBeUndefined();
        expect(await client.head(`${scheme}://b/${tag}-streamed`)).toBeUndefined();
        // An over-limit overwrite leaves the old object as it was.
        await client.write(`${scheme}://b/${tag}-kept`, "old");
        expect(
          (await rejection(client.write(`${scheme}://b/${tag}-kept`, stalledBody(new Uint8Array(MiB), Promise.resolve(new Uint8Array(5))))))
            .code,
        ).toBe(Code.ResourceExhausted);
        expect(Buffer.from(await client.readBytes(`${scheme}://b/${tag}-kept`)).toString()).toBe("old");
        if (scheme === "file") {
          // Not even a temp file is left behind: only the kept object and its metadata sidecar are new.
          const added = (await filesUnder(daemon.localRoot)).filter((f) => !before.includes(f));
          expect(added.filter((f) => !f.startsWith(".stowd/meta/"))).toEqual([`b/${tag}-kept`]);
          expect(added.length).toBeLessThanOrEqual(2);
        }
      }
      // Exactly the limit is fine.
      expect((await client.write(`mem://b/${tag}-exact`, new Uint8Array(MiB))).size).toBe(MiB);
    });

    it(`${name}: a request message over maxMessageMBs is RESOURCE_EXHAUSTED and stores nothing`, async () => {
      const { client } = listener();
      const ref = `mem://b/${name.replace(" ", "-")}-big.pb`;
      const err = await rejection(
        client.writeProtobuf(ref, BytesValueSchema, create(BytesValueSchema, { value: new Uint8Array(2 * MiB + 1) })),
      );
      expect(err.code).toBe(Code.ResourceExhausted);
      // grpc-js and connect-node word it differently; both give the limit in bytes.
      expect(err.message).toContain(String(2 * MiB));
      expect(await client.head(ref)).toBeUndefined();
    });
  }
});

describe("maxConcurrentCalls", () => {
  let daemon: TestDaemon;
  let listeners: Listener[];
  beforeAll(async () => {
    daemon = await startTestDaemon({ bounds: { maxConcurrentCalls: 2 } });
    listeners = listenersOf(daemon);
  });
  afterAll(async () => {
    for (const l of listeners ?? []) l.close();
    await daemon?.close();
  });

  it("refuses one call more than the limit across both listeners, then admits again", async () => {
    const [grpc, http] = listeners as [Listener, Listener];
    let releaseA!: (rest: Uint8Array) => void;
    let releaseB!: (rest: Uint8Array) => void;
    const a = grpc.client.write("mem://b/slot-a", stalledBody(new Uint8Array(10), new Promise((r) => (releaseA = r))));
    const b = http.client.write("mem://b/slot-b", stalledBody(new Uint8Array(10), new Promise((r) => (releaseB = r))));
    // Both writes are in progress once their first chunk has arrived.
    await expect
      .poll(
        async () =>
          (await (await fetch(`${daemon.httpUrl}/metrics`)).text()).match(
            /stowd_rpc_in_flight\{grpc_service="stowd.v1.RawStoreService",grpc_method="WriteRaw"\} (\d+)/,
          )?.[1],
      )
      .toBe("2");
    for (const l of listeners) {
      const err = await rejection(l.client.head("mem://b/slot-a"));
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.reason).toBe(ErrorReason.LIMIT_EXCEEDED);
      expect(err.message).toContain("server.maxConcurrentCalls = 2");
    }
    releaseA(new Uint8Array(1));
    releaseB(new Uint8Array(1));
    expect((await a).size).toBe(11);
    expect((await b).size).toBe(11);
    expect((await grpc.client.head("mem://b/slot-a"))?.size).toBe(11);
  });
});

describe("idle streams and deadlines", () => {
  let daemon: TestDaemon;
  let listeners: Listener[];
  beforeAll(async () => {
    daemon = await startTestDaemon({ bounds: { idleStreamTimeoutMs: 400, defaultDeadlineMs: 1500, maxDeadlineMs: 2500 } });
    listeners = listenersOf(daemon);
    await listeners[0]?.client.write("mem://b/big", new Uint8Array(32 * MiB));
  });
  afterAll(async () => {
    for (const l of listeners ?? []) l.close();
    await daemon?.close();
  });

  for (const name of ["grpc port", "http port"] as const) {
    const listener = () => listeners.find((l) => l.name === name) as Listener;
    const tag = name.replace(" ", "-");

    it(`${name}: an upload that stops sending is cancelled after idleStreamTimeout and stores nothing`, async () => {
      const ref = `file://b/${tag}-idle-upload`;
      const err = await rejection(listener().client.write(ref, stalledBody(new Uint8Array(100), new Promise(() => {}))));
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.reason).toBe(ErrorReason.LIMIT_EXCEEDED);
      expect(err.message).toMatch(
        /the stream was idle for (4\d\d|[5-9]\d\d)ms: no message moved in either direction \(server\.idleStreamTimeout = 400ms\)/,
      );
      expect(await listener().client.head(ref)).toBeUndefined();
    });

    it(`${name}: a reader that stops reading is cancelled after idleStreamTimeout; one that keeps reading is not`, async () => {
      const { client } = listener();
      const stopped = await client.read("mem://b/big");
      const it = stopped.chunks[Symbol.asyncIterator]();
      await it.next(); // one chunk, then nothing for a while
      await new Promise((r) => setTimeout(r, 1500));
      const err = await (async () => {
        for (;;) await it.next();
      })().catch((e: unknown) => e);
      expect((err as { code?: unknown }).code).toBe(Code.ResourceExhausted);
      expect((err as Error).message).toContain("server.idleStreamTimeout = 400ms");

      // Slow but steady (a chunk every 100 ms) is not idle.
      const steady = await client.read("mem://b/big", { range: { offset: 0, length: 8 * MiB } });
      let bytes = 0;
      for await (const chunk of steady.chunks) {
        bytes += chunk.length;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(bytes).toBe(8 * MiB);
    });

    it(`${name}: a call without a deadline gets defaultDeadline; a longer client deadline is capped at maxDeadline`, async () => {
      const { client } = listener();
      // Keep the stream busy (a byte every 200 ms) so only a deadline can end it.
      async function* trickle(): AsyncGenerator<Uint8Array> {
        for (;;) {
          yield new Uint8Array(1);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      const byDefault = await rejection(client.write(`mem://b/${tag}-no-deadline`, trickle()));
      expect(byDefault.code).toBe(Code.DeadlineExceeded);
      expect(byDefault.message).toContain("default deadline of 1.5s (server.defaultDeadline = 1.5s)");
      const capped = await rejection(client.write(`mem://b/${tag}-long-deadline`, trickle(), { timeoutMs: 60_000 }));
      expect(capped.code).toBe(Code.DeadlineExceeded);
      expect(capped.message).toContain("capped at server.maxDeadline = 2.5s");
      // A client deadline within the cap is the client's own. (Declared size:
      // the SDK's connect transport half-closes a client stream when its own
      // deadline fires, which ends an undeclared upload early; see docs/operations.md, Shutdown.)
      const own = await rejection(client.write(`mem://b/${tag}-own-deadline`, trickle(), { timeoutMs: 600, size: 1000 }));
      expect(own.code).toBe(Code.DeadlineExceeded);
      expect(own.message).not.toContain("server.");
      for (const suffix of ["no-deadline", "long-deadline", "own-deadline"])
        expect(await client.head(`mem://b/${tag}-${suffix}`)).toBeUndefined();
    });
  }
});

describe("maxStreamsPerConnection", () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await startTestDaemon({ bounds: { maxStreamsPerConnection: 7 } });
  });
  afterAll(async () => {
    await daemon?.close();
  });

  it("is the HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS of both ports", async () => {
    for (const url of [daemon.grpcUrl, daemon.httpUrl]) {
      const session = http2.connect(url);
      try {
        await new Promise<void>((resolve, reject) => {
          session.once("remoteSettings", () => resolve());
          session.once("error", reject);
        });
        expect(session.remoteSettings.maxConcurrentStreams, url).toBe(7);
      } finally {
        session.destroy();
      }
    }
  });
});
