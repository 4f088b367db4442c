// stowd through daemon-signed URLs: CreateSignedUrl over plain grpc-js, then
// a GET or PUT of the URL with node:http (bench/harness/http1-calls.ts). The
// URLs of an object are signed in reset(), untimed, so the timed calls measure
// the data path alone; reset() also deletes the object, as the grpc-js target's does.
import { create } from "@bufbuild/protobuf";
import { CreateSignedUrlRequestSchema, CreateSignedUrlResponseSchema, SignedUrlMethod } from "../../gen/stowd/v1/raw_store_pb.js";
import { protoMethod, unary } from "../harness/grpc-calls.js";
import { createHttp1Agent, http1Get, http1Put } from "../harness/http1-calls.js";
import { createStowdGrpcJsTarget, type StowdGrpcJsTargetOptions } from "./stowd-grpc-js-target.js";
import type { StreamTarget } from "./stream-target.js";

const CreateSignedUrl = protoMethod("CreateSignedUrl", CreateSignedUrlRequestSchema, CreateSignedUrlResponseSchema);

/** Long enough for any run; a URL is signed again for every write. */
const EXPIRES_SECONDS = 3600n;

interface SignedUrl {
  url: string;
  headers: Record<string, string>;
}

export function createStowdSignedUrlTarget(options: StowdGrpcJsTargetOptions): StreamTarget {
  const { label } = options;
  // Signing and deleting go over gRPC; a channel of its own, so the grpc-js target's calls never share it.
  const grpcTarget = createStowdGrpcJsTarget({ ...options, channelOptions: { "grpc.use_local_subchannel_pool": 1 } });
  const agent = createHttp1Agent();
  const urls = new Map<string, { get: SignedUrl; put: SignedUrl }>();

  async function sign(name: string, method: SignedUrlMethod): Promise<SignedUrl> {
    const res = await unary(
      grpcTarget.client,
      CreateSignedUrl.path,
      CreateSignedUrl.serialize,
      CreateSignedUrl.deserialize,
      create(CreateSignedUrlRequestSchema, {
        reference: options.reference(name),
        method,
        expiresIn: { seconds: EXPIRES_SECONDS },
        ...(method === SignedUrlMethod.PUT ? { contentType: "application/octet-stream" } : {}),
      }),
    );
    return { url: res.url, headers: res.requiredHeaders };
  }

  async function signBoth(name: string): Promise<{ get: SignedUrl; put: SignedUrl }> {
    const signed = { get: await sign(name, SignedUrlMethod.GET), put: await sign(name, SignedUrlMethod.PUT) };
    urls.set(name, signed);
    return signed;
  }

  /** The URLs reset() signed; signed now (inside the timing) only for an object never reset. */
  const urlsOf = async (name: string) => urls.get(name) ?? (await signBoth(name));

  return {
    label,
    serverPid: options.serverPid,
    async write(name, payload) {
      const { put } = await urlsOf(name);
      const text = await http1Put(agent, put.url, payload, put.headers, label);
      // The answer is the stored ObjectInfo as JSON (int64 as a string).
      const stored = (JSON.parse(text) as { size?: string }).size;
      if (stored !== String(payload.length)) throw new Error(`${label}: PUT stored ${stored} bytes, sent ${payload.length}`);
    },
    async read(name, size, verify) {
      const { get } = await urlsOf(name);
      const bytes = await http1Get(agent, get.url, label, verify);
      if (bytes !== size) throw new Error(`${label}: GET returned ${bytes} bytes, expected ${size}`);
      return bytes;
    },
    async reset(name) {
      await grpcTarget.reset(name);
      await signBoth(name);
    },
    close() {
      agent.destroy();
      grpcTarget.close();
    },
  };
}
