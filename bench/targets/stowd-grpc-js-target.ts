// stowd through a plain grpc-js client (no SDK): the generated messages over
// raw method paths, with the same channel settings as the bare ceiling, so the
// difference to it is stowd's daemon and message encoding.
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  DeleteRequestSchema,
  DeleteResponseSchema,
  HeadRequestSchema,
  HeadResponseSchema,
  ReadRawRequestSchema,
  ReadRawResponseSchema,
  WriteRawRequestSchema,
  WriteRawResponseSchema,
} from "../../gen/stowd/v1/raw_store_pb.js";
import { CLIENT_OPTIONS } from "../common.js";
import { chunksOf, drain, protoMethod, unary, upload, verifyAt } from "../harness/grpc-calls.js";
import type { StreamTarget } from "./stream-target.js";

export const ReadRaw = protoMethod("ReadRaw", ReadRawRequestSchema, ReadRawResponseSchema);
export const WriteRaw = protoMethod("WriteRaw", WriteRawRequestSchema, WriteRawResponseSchema);
export const Head = protoMethod("Head", HeadRequestSchema, HeadResponseSchema);
export const Delete = protoMethod("Delete", DeleteRequestSchema, DeleteResponseSchema);

export interface StowdGrpcJsTargetOptions {
  label: string;
  /** The daemon's gRPC port on 127.0.0.1. */
  port: number;
  serverPid: number;
  /** Reference of an object from its name, e.g. (name) => `mem://bench/${name}`. */
  reference: (name: string) => string;
  /** Extra channel options, e.g. a channel of its own. */
  channelOptions?: grpc.ChannelOptions;
}

export function createStowdGrpcJsTarget(options: StowdGrpcJsTargetOptions): StreamTarget & { client: grpc.Client } {
  const { label } = options;
  const client = new grpc.Client(`127.0.0.1:${options.port}`, grpc.credentials.createInsecure(), {
    ...CLIENT_OPTIONS,
    ...options.channelOptions,
  });
  return {
    label,
    serverPid: options.serverPid,
    client,
    async write(name, payload) {
      const reference = options.reference(name);
      const header = create(WriteRawRequestSchema, {
        body: { case: "header", value: { reference, size: BigInt(payload.length), contentType: "application/octet-stream" } },
      });
      function* messages() {
        yield header;
        for (const chunk of chunksOf(payload)) yield create(WriteRawRequestSchema, { body: { case: "chunk", value: chunk } });
      }
      const res = await upload(client, WriteRaw.path, WriteRaw.serialize, WriteRaw.deserialize, messages());
      if (res.info?.size !== BigInt(payload.length))
        throw new Error(`${label}: WriteRaw stored ${String(res.info?.size)} bytes, sent ${payload.length}`);
    },
    async read(name, size, verify) {
      const call = client.makeServerStreamRequest(
        ReadRaw.path,
        ReadRaw.serialize,
        ReadRaw.deserialize,
        create(ReadRawRequestSchema, { reference: options.reference(name) }),
      );
      let offset = 0;
      let header = false;
      const bytes = await drain(call, (m) => {
        if (m.body.case === "header") {
          if (header || m.body.value.info?.size !== BigInt(size)) throw new Error(`${label}: unexpected ReadRaw header`);
          header = true;
          return 0;
        }
        if (m.body.case !== "chunk" || !header) throw new Error(`${label}: ReadRaw sent a chunk before the header`);
        if (verify !== undefined) verifyAt(verify, offset, m.body.value, label);
        offset += m.body.value.length;
        return m.body.value.length;
      });
      if (bytes !== size) throw new Error(`${label}: ReadRaw returned ${bytes} bytes, expected ${size}`);
      return bytes;
    },
    async reset(name) {
      await unary(
        client,
        Delete.path,
        Delete.serialize,
        Delete.deserialize,
        create(DeleteRequestSchema, { reference: options.reference(name), allowMissing: true }),
      );
    },
    close: () => client.close(),
  };
}
