// The ProtobufStoreService implementation. A message is stored as its own
// wire encoding (the Any's `value`), so Flyte's Go ReadProtobuf reads it;
// the type URL goes into object metadata. It uses the same store tree as raw
// bytes, so caches and limits apply alike.
import type { HandlerContext } from "@connectrpc/connect";
import type { ProtobufStoreService } from "../../gen/stowd/v1/protobuf_store_pb.js";
import { StowdError } from "../../common/errors.js";
import type { CallHandlers } from "../calls/call-pipeline.js";
import { parseReference } from "../references/reference.js";
import { crc32cOf, knownCrc32c } from "../stores/kit/crc32c.js";
import type { RawStore } from "../stores/raw-store.js";
import { toObjectInfo } from "./object-info.js";
import { validateMetadata, validatePreconditions } from "./validate-request.js";

/** Object metadata key holding the stored message's type URL. */
export const TYPE_URL_METADATA_KEY = "stowd_type_url";
const TYPE_URL = /^[\x21-\x7e]{1,512}$/;

export interface ProtobufStoreServiceOptions {
  store: RawStore;
  /** A message must fit in one response. */
  maxMessageBytes: number;
}

export function createProtobufStoreService(options: ProtobufStoreServiceOptions): CallHandlers<typeof ProtobufStoreService> {
  const { store, maxMessageBytes } = options;
  return {
    async writeProtobuf(req, ctx: HandlerContext) {
      const ref = parseReference(req.reference);
      const message = req.message;
      if (message === undefined || !TYPE_URL.test(message.typeUrl)) {
        throw new StowdError(
          "INVALID_ARGUMENT",
          "message: must be a google.protobuf.Any with type_url set, e.g. type.googleapis.com/flyteidl.core.LiteralMap",
          {
            field: "message.type_url",
            reference: req.reference,
          },
        );
      }
      const metadata = { ...validateMetadata(req.metadata, "metadata"), [TYPE_URL_METADATA_KEY]: message.typeUrl };
      const meta = await store.write(
        ref,
        (async function* () {
          yield message.value;
        })(),
        {
          contentType: "application/x-protobuf",
          metadata,
          preconditions: validatePreconditions(req.preconditions, "preconditions"),
          size: message.value.length,
          // The encoded bytes are all here: their CRC32C is known up front, for the backends that send it first.
          crc32c: knownCrc32c(crc32cOf(message.value)),
        },
        ctx.signal,
      );
      return { info: toObjectInfo(ref, meta) };
    },

    async readProtobuf(req, ctx: HandlerContext) {
      const ref = parseReference(req.reference);
      const opened = await store.read(ref, {}, ctx.signal);
      try {
        const stored = opened.meta.metadata[TYPE_URL_METADATA_KEY] ?? "";
        if (req.typeUrl !== "" && stored !== "" && stored !== req.typeUrl) {
          throw new StowdError("TYPE_MISMATCH", `${req.reference} holds a ${stored}, not the requested ${req.typeUrl}`, {
            reference: req.reference,
          });
        }
        if (opened.length > maxMessageBytes) {
          throw new StowdError(
            "LIMIT_EXCEEDED",
            `${req.reference} is ${opened.length} bytes, more than fits in one message (${maxMessageBytes}); read it with RawStoreService.ReadRaw`,
            {
              reference: req.reference,
              size: opened.length,
              limit: maxMessageBytes,
            },
          );
        }
        const value = Buffer.alloc(opened.length);
        let filled = 0;
        for await (const chunk of opened.body) {
          if (filled + chunk.length > value.length) break;
          value.set(chunk, filled);
          filled += chunk.length;
        }
        if (filled !== opened.length) {
          throw new StowdError("INTERNAL", `${req.reference} changed while it was read; try again`, { reference: req.reference });
        }
        // Objects without a recorded type (written by Flyte or WriteRaw) take the requested one.
        return { message: { typeUrl: stored || req.typeUrl, value }, info: toObjectInfo(ref, opened.meta) };
      } finally {
        await opened.close();
      }
    },
  };
}
