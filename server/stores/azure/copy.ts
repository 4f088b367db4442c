// Server-side copies on Azure, under the destination's lock: one
// synchronous Copy Blob From URL up to `syncCopyMaxBytes` (Azure's limit
// for it), an asynchronous Copy Blob polled to its end above. The source is
// pinned by If-Match to the version just checked, and read through a
// short-lived SAS (needed even within the account).
import { setTimeout as sleep } from "node:timers/promises";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { quoteEtag, unquoteEtag } from "../kit/etag.js";
import { referenceOf } from "../kit/object-reference.js";
import { checkEtag, checkPreconditions, hasPreconditions } from "../kit/preconditions.js";
import type { CopyOptions, ObjectMeta } from "../raw-store.js";
import { explainConflict, writeConditions } from "./conditions.js";
import { blobOf, checkRef, locked, run, type AzureContext } from "./context.js";
import { AZURE_KIND, isAzure } from "./errors.js";
import { existingMeta, headMeta } from "./read.js";
import { blobSas } from "./signed-urls.js";

export async function copy(
  ctx: AzureContext,
  source: Ref,
  destination: Ref,
  options: CopyOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const reference = referenceOf(destination);
  checkRef(ctx, source, true);
  checkRef(ctx, destination, true);
  const pre = options.preconditions;
  return locked(ctx, destination, signal, async () => {
    const from = await existingMeta(ctx, source, signal);
    checkEtag(from, options.ifSourceMatchEtag, referenceOf(source), "nothing was copied");
    if (hasPreconditions(pre)) checkPreconditions(await headMeta(ctx, destination, signal), pre, reference);
    const sas = blobSas(ctx, source, "r", new Date(Date.now() + Math.max(15 * 60_000, ctx.policy.totalTimeoutMs * 2)));
    const sourceUrl = sas === undefined ? blobOf(ctx, source).url : `${blobOf(ctx, source).url}?${sas}`;
    const conditions = writeConditions(pre);
    const sourceConditions = { ifMatch: quoteEtag(from.etag) };
    const target = blobOf(ctx, destination);
    let response: { etag?: string | undefined; lastModified?: Date | undefined; versionId?: string | undefined };
    try {
      if (from.size <= ctx.syncCopyMaxBytes) {
        response = await run(ctx, "COPY", destination, signal, !hasPreconditions(pre), (s) =>
          target.syncCopyFromURL(sourceUrl, { abortSignal: s, conditions, sourceConditions }),
        );
      } else {
        // Larger sources: an asynchronous copy, polled here (the SDK's poller takes no abort signal).
        const poller = await run(ctx, "COPY", destination, signal, false, (s) =>
          target.beginCopyFromURL(sourceUrl, { abortSignal: s, conditions, sourceConditions }),
        );
        poller.stopPolling();
        for (;;) {
          const props = await run(ctx, "HEAD", destination, signal, true, (s) => target.getProperties({ abortSignal: s }));
          if (props.copyStatus === "success") {
            response = props;
            break;
          }
          if (props.copyStatus !== "pending") {
            throw new StowdError(
              "BACKEND_UNAVAILABLE",
              `the azure copy to ${reference} ended with status ${props.copyStatus ?? "unknown"} (${props.copyStatusDescription ?? ""})`,
              {
                reference,
                backend: AZURE_KIND,
              },
            );
          }
          await sleep(ctx.copyPollIntervalMs, undefined, { signal }).catch(() => throwIfAborted(signal, reference));
        }
      }
    } catch (err) {
      if (isAzure(err, 412) || isAzure(err, 404)) {
        // The source changed or vanished meanwhile, or a destination condition failed.
        const now = await headMeta(ctx, source, signal);
        if (now === undefined)
          throw new StowdError("NOT_FOUND", `${referenceOf(source)} does not exist`, {
            reference: referenceOf(source),
            backend: AZURE_KIND,
          });
        if (now.etag !== from.etag) {
          throw new StowdError(
            "PRECONDITION_FAILED",
            `${referenceOf(source)} changed while it was copied; nothing was copied, retry the call`,
            { reference: referenceOf(source), backend: AZURE_KIND },
          );
        }
      }
      throw await explainConflict(ctx, err, destination, pre, signal);
    }
    return {
      ...from,
      key: destination.key,
      etag: unquoteEtag(response.etag),
      updated: response.lastModified ?? new Date(),
      generation: response.versionId ?? "",
    };
  });
}
