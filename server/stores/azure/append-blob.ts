// Append blobs made by other tools are appended to natively: one Append
// Block with the append-position condition, so at most 4 MiB per call
// (a larger append could not be atomic). stowd itself writes block blobs.
import { MiB } from "../../../common/units.js";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { abortable, throwIfAborted } from "../kit/abort.js";
import { quoteEtag, unquoteEtag } from "../kit/etag.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkAppend } from "../kit/preconditions.js";
import type { AppendOptions, ObjectMeta } from "../raw-store.js";
import { blobState, type BlobState } from "./block-list.js";
import { containerOf, fail, run, type AzureContext } from "./context.js";
import { AZURE_KIND, isAzure } from "./errors.js";
import { toMeta } from "./metadata.js";

/** Largest Append Block Azure accepts in every service version. */
const APPEND_BLOCK_MAX_BYTES = 4 * MiB;

export async function appendToAppendBlob(
  ctx: AzureContext,
  ref: Ref,
  state: BlobState,
  body: AsyncIterable<Uint8Array>,
  options: AppendOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const reference = referenceOf(ref);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of abortable(body, signal, reference)) {
    total += chunk.length;
    if (total > APPEND_BLOCK_MAX_BYTES) {
      throw new StowdError(
        "UNSUPPORTED",
        `${reference} is an append blob, which Azure extends one block (${APPEND_BLOCK_MAX_BYTES} bytes) at a time; a larger append could not be atomic; nothing was appended`,
        { reference, size: total, limit: APPEND_BLOCK_MAX_BYTES, backend: AZURE_KIND },
      );
    }
    chunks.push(chunk);
  }
  throwIfAborted(signal, reference);
  const data = Buffer.concat(chunks, total);
  const meta = state.meta ?? toMeta(ref.key, {});
  if (data.length === 0) return meta;
  try {
    const response = await run(ctx, "APPEND BLOCK", ref, signal, false, (s) =>
      containerOf(ctx, ref)
        .getAppendBlobClient(ref.key)
        .appendBlock(data, data.length, {
          abortSignal: s,
          conditions: {
            ...(options.ifMatchEtag === undefined ? {} : { ifMatch: quoteEtag(options.ifMatchEtag) }),
            ...(options.expectedOffset === undefined ? {} : { appendPosition: options.expectedOffset }),
          },
        }),
    );
    const appendedAt = Number(response.blobAppendOffset ?? state.size);
    return { ...meta, size: appendedAt + data.length, etag: unquoteEtag(response.etag), updated: response.lastModified ?? new Date() };
  } catch (err) {
    if (isAzure(err, 412)) {
      const now = await blobState(ctx, ref, signal);
      checkAppend(now.meta, options, reference, AZURE_KIND);
      throw new StowdError("BACKEND_UNAVAILABLE", `${reference} changed while appending; nothing was appended, retry the call`, {
        reference,
        backend: AZURE_KIND,
        cause: err,
      });
    }
    throw fail(ctx, err, ref, signal);
  }
}
