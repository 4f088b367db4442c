// What the SDK returns is plain data: numbers for sizes, counts and limits,
// Dates for times, no protobuf message types, so results print, compare and
// JSON-serialise as they read; a size past 2^53 - 1 is a StowdClientError,
// never a rounded number. Checked against stub handlers through connect's
// router transport, which can answer what no real backend stores.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { Code, createStowdClient, ErrorReason, type StowdClient } from "../../client/index.js";
import { ObjectInfoSchema } from "../../client/proto.js";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { clientRejection } from "../helpers/rejections.js";

const UPDATED = new Date("2026-12-01T05:59:56.250Z");
const TOO_BIG = 2n ** 53n;

function objectInfo(reference: string, size: bigint) {
  return create(ObjectInfoSchema, {
    reference,
    size,
    etag: "e1",
    contentType: "text/plain",
    metadata: { owner: "test" },
    updateTime: timestampFromDate(UPDATED),
    crc32c: 0xe3069283,
  });
}

function stubClient(): StowdClient {
  return createStowdClient({
    transport: createRouterTransport(({ service }) =>
      service(RawStoreService, {
        head: ({ reference }) => ({ exists: true, info: objectInfo(reference, reference.endsWith("huge") ? TOO_BIG : 9n) }),
        list: ({ reference }) => ({ objects: [objectInfo(`${reference}a`, 1n), objectInfo(`${reference}huge`, TOO_BIG)] }),
        deletePrefix: () => ({ deletedCount: 3n }),
        getServerInfo: () => ({
          version: "0.1.0",
          backends: [{ scheme: "mem", kind: "memory", capabilities: { append: true, rangedReads: true } }],
          limits: { maxDownloadBytes: 2n * 1024n * 1024n, maxUploadBytes: 0n, maxMessageBytes: 16n * 1024n * 1024n },
          caller: { authEnabled: true, name: "team-a", grants: [{ operations: ["read", "list"], prefixes: ["mem://b/team-a/"] }] },
        }),
      }),
    ),
  });
}

describe("plain results", () => {
  it("gives object info with a number size and a Date", async () => {
    const info = await stubClient().head("mem://b/k");
    expect(info).toEqual({
      reference: "mem://b/k",
      size: 9,
      etag: "e1",
      contentMd5: undefined,
      crc32c: 0xe3069283,
      contentType: "text/plain",
      metadata: { owner: "test" },
      updateTime: UPDATED,
      generation: "",
    });
    expect(JSON.parse(JSON.stringify(info))).toMatchObject({ size: 9, updateTime: "2026-12-01T05:59:56.250Z" });
  });

  it("fails a size past 2^53 - 1 with a StowdClientError naming the object", async () => {
    const error = await clientRejection(stubClient().head("mem://b/huge"));
    expect(error.code).toBe(Code.OutOfRange);
    expect(error.reason).toBe(ErrorReason.OUT_OF_RANGE);
    expect(error.reference).toBe("mem://b/huge");
    expect(error.message).toContain("size 9007199254740992 is more than the SDK's limit of 2^53 - 1");
  });

  it("fails a listing page that holds such a size the same way", async () => {
    const pages = stubClient().listPages("mem://b/");
    const error = await clientRejection(pages[Symbol.asyncIterator]().next());
    expect(error.code).toBe(Code.OutOfRange);
    expect(error.reference).toBe("mem://b/huge");
  });

  it("counts deleted objects and reports limits as numbers", async () => {
    const client = stubClient();
    expect(await client.deletePrefix("mem://b/")).toBe(3);
    expect(await client.serverInfo()).toEqual({
      version: "0.1.0",
      backends: [
        {
          scheme: "mem",
          kind: "memory",
          capabilities: {
            rangedReads: true,
            append: true,
            conditionalWrites: false,
            signedUrls: false,
            delimiterListing: false,
            serverSideCopy: false,
          },
          baseContainerReference: "",
        },
      ],
      limits: { maxDownloadBytes: 2 * 1024 * 1024, maxUploadBytes: 0, maxMessageBytes: 16 * 1024 * 1024 },
      caller: { authEnabled: true, name: "team-a", grants: [{ operations: ["read", "list"], prefixes: ["mem://b/team-a/"] }] },
    });
  });
});
