// The S3 baseline: @aws-sdk/client-s3 called directly from the benchmark
// process, with the settings stowd's S3 store uses (path style, no optional
// checksums, 8 MiB parts, 4 at a time via lib-storage's Upload; every part
// signed with its SHA-256 and no Content-MD5, as stowd's parts are), so the
// difference to "stowd s3://" is the daemon hop.
import { DeleteObjectCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { MiB } from "../common.js";
import { verifyAt } from "../harness/grpc-calls.js";
import type { StreamTarget } from "./stream-target.js";

export interface S3DirectTargetOptions {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** stowd's S3 store defaults (server/stores/s3/). */
  partSizeBytes?: number;
  partConcurrency?: number;
}

export function createS3DirectTarget(options: S3DirectTargetOptions): StreamTarget {
  const label = "S3 SDK direct";
  const client = new S3Client({
    endpoint: options.endpoint,
    region: options.region,
    forcePathStyle: true,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    maxAttempts: 1,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  const Bucket = options.bucket;
  return {
    label,
    serverPid: undefined,
    async write(name, payload) {
      await new Upload({
        client,
        params: { Bucket, Key: name, Body: payload, ContentType: "application/octet-stream" },
        partSize: options.partSizeBytes ?? 8 * MiB,
        queueSize: options.partConcurrency ?? 4,
        leavePartsOnError: false,
      }).done();
    },
    async read(name, size, verify) {
      const out = await client.send(new GetObjectCommand({ Bucket, Key: name }));
      const body = out.Body as AsyncIterable<Uint8Array> | undefined;
      if (body === undefined) throw new Error(`${label}: GetObject ${name} without a body`);
      let offset = 0;
      for await (const chunk of body) {
        if (verify !== undefined) verifyAt(verify, offset, chunk, label);
        offset += chunk.length;
      }
      if (offset !== size) throw new Error(`${label}: GetObject returned ${offset} bytes, expected ${size}`);
      return offset;
    },
    async reset(name) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: name }));
    },
    close: () => client.destroy(),
  };
}
