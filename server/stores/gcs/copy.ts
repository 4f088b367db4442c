// Server-side copies on GCS with the JSON API's rewrite, which may take
// several calls for a large object (each answers with a rewriteToken). The
// source is pinned to the generation just checked; when it is replaced
// meanwhile, the copy is tried again (up to three times).
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { checkEtag } from "../kit/preconditions.js";
import type { CopyOptions, ObjectMeta } from "../raw-store.js";
import { conditionsFor, preconditionFailure } from "./conditions.js";
import { checkWritableKey, checkedReference, fail, fileOf, retrying, type GcsContext } from "./context.js";
import { GCS_KIND, gcsStatus } from "./errors.js";
import { toMeta, type GcsObject } from "./metadata.js";
import { headResource, requireBucket } from "./read.js";
import { apiRequest } from "./requests.js";

interface RewriteResponse {
  done?: boolean;
  rewriteToken?: string;
  resource?: GcsObject;
}

export async function copy(ctx: GcsContext, source: Ref, destination: Ref, options: CopyOptions, signal: AbortSignal): Promise<ObjectMeta> {
  const reference = checkedReference(destination);
  const sourceReference = checkedReference(source);
  checkWritableKey(ctx, destination, reference);
  throwIfAborted(signal, reference);
  for (let attempt = 1; ; attempt++) {
    const from = await headResource(ctx, source, signal);
    if (from === undefined)
      throw new StowdError("NOT_FOUND", `${sourceReference} does not exist; nothing was copied`, {
        reference: sourceReference,
        backend: GCS_KIND,
      });
    checkEtag(toMeta(source.key, from), options.ifSourceMatchEtag, sourceReference, "nothing was copied");
    const conditions = await conditionsFor(ctx, destination, options.preconditions, signal, reference);
    // Pinned to the version just checked; its metageneration too when an etag was asked for.
    const query: Record<string, string | number> = { sourceGeneration: Number(from.generation), ...conditions };
    if (options.ifSourceMatchEtag !== undefined) query.ifSourceMetagenerationMatch = Number(from.metageneration);
    try {
      let token: string | undefined;
      for (;;) {
        // An empty resource: the copy keeps the source's content type and metadata.
        const reply: RewriteResponse = await retrying(ctx, reference, "copying to", signal, (s) =>
          apiRequest<RewriteResponse>(
            fileOf(ctx, source),
            {
              method: "POST",
              uri: `/rewriteTo/b/${encodeURIComponent(destination.container)}/o/${encodeURIComponent(destination.key)}`,
              qs: token === undefined ? query : { ...query, rewriteToken: token },
              json: {},
            },
            s,
          ),
        );
        if (reply.done && reply.resource !== undefined) return toMeta(destination.key, reply.resource);
        if (reply.rewriteToken === undefined)
          throw new StowdError("INTERNAL", `GCS answered a rewrite to ${reference} with neither a result nor a rewriteToken`, {
            reference,
            backend: GCS_KIND,
          });
        token = reply.rewriteToken;
      }
    } catch (err) {
      if (err instanceof StowdError) throw err;
      const status = gcsStatus(err);
      if (status === 412) {
        if (options.ifSourceMatchEtag !== undefined) {
          const now = await headResource(ctx, source, signal);
          if (now === undefined)
            throw new StowdError("NOT_FOUND", `${sourceReference} was deleted while it was copied; nothing was copied`, {
              reference: sourceReference,
              backend: GCS_KIND,
            });
          checkEtag(toMeta(source.key, now), options.ifSourceMatchEtag, sourceReference, "nothing was copied");
        }
        throw await preconditionFailure(ctx, destination, options.preconditions, signal, reference, err);
      }
      if (status === 404) {
        await requireBucket(ctx, destination.container, reference, signal, false);
        await requireBucket(ctx, source.container, sourceReference, signal, false);
        if (attempt < 3) continue; // the source version we pinned was replaced: look again
      }
      throw fail(ctx, err, reference, "copying to");
    }
  }
}
