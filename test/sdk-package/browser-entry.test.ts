// The browser entry point (client/browser.ts) driven from Node, whose fetch,
// Blob and web streams are the browser's APIs: the Connect protocol over
// fetch to the daemon's HTTP port, including uploads, which fetch cannot
// stream and the entry sends as one buffered body. The same entry in a real
// headless browser, with CORS, is test/browser's.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createStowdClient, ErrorReason, type StowdClient } from "../../client/browser.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { clientRejection } from "../helpers/rejections.js";

let daemon: TestDaemon;
let stowd: StowdClient;

beforeAll(async () => {
  daemon = await startTestDaemon();
  stowd = createStowdClient({ baseUrl: daemon.httpUrl, timeoutMs: 30_000 });
});

afterAll(async () => {
  stowd?.close();
  await daemon?.close();
});

const data = new Uint8Array(randomBytes(3 * 1024 * 1024 + 17));

const bodies = {
  bytes: () => data,
  Blob: () => new Blob([data]),
  ReadableStream: () => new Blob([data]).stream(),
};

describe("the browser entry over fetch", () => {
  it.each(Object.keys(bodies) as (keyof typeof bodies)[])("uploads from %s and downloads the same bytes", async (kind) => {
    const ref = `mem://browser/${kind}`;
    const info = await stowd.write(ref, bodies[kind](), { contentType: "application/octet-stream" });
    expect(info).toMatchObject({ reference: ref, size: data.byteLength, contentType: "application/octet-stream" });
    expect(Buffer.from(await stowd.readBytes(ref)).equals(data)).toBe(true);
    const streamed = new Uint8Array(await new Response(stowd.readWebStream(ref)).arrayBuffer());
    expect(Buffer.from(streamed).equals(data)).toBe(true);
  });

  it("lists, heads and deletes", async () => {
    await stowd.write("mem://browser/dir/a.txt", "a");
    await stowd.write("mem://browser/dir/b.txt", "bb");
    const listed: [string, number][] = [];
    for await (const entry of stowd.list("mem://browser/dir/")) {
      if (entry.kind === "object") listed.push([entry.info.reference, entry.info.size]);
    }
    expect(listed).toEqual([
      ["mem://browser/dir/a.txt", 1],
      ["mem://browser/dir/b.txt", 2],
    ]);
    const head = await stowd.head("mem://browser/dir/b.txt");
    expect(head?.updateTime).toBeInstanceOf(Date);
    await stowd.delete("mem://browser/dir/a.txt");
    expect(await stowd.head("mem://browser/dir/a.txt")).toBeUndefined();
    expect(await stowd.deletePrefix("mem://browser/dir/")).toBe(1);
  });

  it("reports an upload's failure with the daemon's code and reason, storing nothing new", async () => {
    const ref = "mem://browser/create-only";
    const first = await stowd.write(ref, "first", { ifNotExists: true });
    const error = await clientRejection(stowd.write(ref, "second", { ifNotExists: true }));
    expect(error.code).toBe(Code.AlreadyExists);
    expect(error.reason).toBe(ErrorReason.ALREADY_EXISTS);
    expect((await stowd.head(ref))?.etag).toBe(first.etag);
    expect(Buffer.from(await stowd.readBytes(ref)).toString()).toBe("first");
  });

  it("appends through the buffered client stream", async () => {
    const ref = "mem://browser/log";
    await stowd.append(ref, "ab", { createIfMissing: true });
    const after = await stowd.append(ref, "cd", { expectedOffset: 2 });
    expect(after.size).toBe(4);
    expect(Buffer.from(await stowd.readBytes(ref)).toString()).toBe("abcd");
  });

  it("reports a missing object as NOT_FOUND", async () => {
    const error = await clientRejection(stowd.readBytes("mem://browser/absent"));
    expect(error.code).toBe(Code.NotFound);
    expect(error.reference).toBe("mem://browser/absent");
  });

  it("asks for the HTTP port when no baseUrl is given", () => {
    expect(() => createStowdClient({})).toThrow(/needs `baseUrl`: the daemon's HTTP port/);
  });
});
