// The Azure baseline: @azure/storage-blob called directly from the benchmark
// process, with the settings stowd's Azure store uses (one Put Blob up to one
// 8 MiB block, else 8 MiB blocks staged 4 at a time, no per-block MD5) and
// storing what it stores: the blob's Content-MD5, which stowd computes for
// every write it is not given one for. So the difference to "stowd abfs://"
// is the daemon hop, not a hash only one side pays for.
import { createHash } from "node:crypto";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { MiB } from "../common.js";
import { verifyAt } from "../harness/grpc-calls.js";
import type { StreamTarget } from "./stream-target.js";

export interface AzureDirectTargetOptions {
  /** Blob service URL including the account, e.g. http://127.0.0.1:41234/devstoreaccount1. */
  blobUrl: string;
  account: string;
  key: string;
  container: string;
  /** stowd's Azure store defaults (server/stores/azure/). */
  blockSizeBytes?: number;
  blockConcurrency?: number;
}

export function createAzureDirectTarget(options: AzureDirectTargetOptions): StreamTarget {
  const label = "Azure SDK direct";
  const service = new BlobServiceClient(options.blobUrl, new StorageSharedKeyCredential(options.account, options.key), {
    retryOptions: { maxTries: 1 },
  });
  const container = service.getContainerClient(options.container);
  const blockSize = options.blockSizeBytes ?? 8 * MiB;
  return {
    label,
    serverPid: undefined,
    async write(name, payload) {
      await container.getBlockBlobClient(name).uploadData(payload, {
        blockSize,
        maxSingleShotSize: blockSize,
        concurrency: options.blockConcurrency ?? 4,
        blobHTTPHeaders: { blobContentType: "application/octet-stream", blobContentMD5: createHash("md5").update(payload).digest() },
      });
    },
    async read(name, size, verify) {
      const out = await container.getBlobClient(name).download();
      const body = out.readableStreamBody;
      if (body === undefined) throw new Error(`${label}: download of ${name} without a body`);
      let offset = 0;
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (verify !== undefined) verifyAt(verify, offset, chunk, label);
        offset += chunk.length;
      }
      if (offset !== size) throw new Error(`${label}: download returned ${offset} bytes, expected ${size}`);
      return offset;
    },
    async reset(name) {
      await container.getBlobClient(name).deleteIfExists();
    },
    close: () => undefined,
  };
}
