// Writes and appends on GCS. A write is one upload (upload.ts) under the
// generation conditions of its preconditions. Append is emulated with
// compose: the appended bytes go to a staging object under `tempPrefix`,
// then [object@generation, staging] is composed into the object with
// ifGenerationMatch; a lost race is retried while the caller's expected
// offset / etag still hold.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { StowdError } from "../../../common/errors.js";
import type { Ref } from "../../references/reference.js";
import { throwIfAborted } from "../kit/abort.js";
import { contentTypeOrDefault } from "../kit/content-type.js";
import { checkAppend } from "../kit/preconditions.js";
import type { AppendOptions, ObjectMeta, WriteOptions } from "../raw-store.js";
import { conditionsFor, versionConditions, type Conditions } from "./conditions.js";
import { checkWritableKey, checkedReference, fail, fileOf, retrying, type GcsContext } from "./context.js";
import { GCS_KIND, gcsStatus } from "./errors.js";
import { carriedMetadata, toMeta, uploadResource, type GcsObject } from "./metadata.js";
import { headResource } from "./read.js";
import { apiRequest, settleOrAbort } from "./requests.js";
import { upload, uploadFailure } from "./upload.js";

const APPEND_ATTEMPTS = 32;

export async function write(
  ctx: GcsContext,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  options: WriteOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const reference = checkedReference(ref);
  checkWritableKey(ctx, ref, reference);
  throwIfAborted(signal, reference);
  const conditions = await conditionsFor(ctx, ref, options.preconditions, signal, reference);
  // A CRC32C declared before the body goes with the upload's metadata, for GCS to check; GCS computes its own either way.
  const resource = uploadResource(options.contentType, options.metadata, options.contentMd5, options.crc32c?.declared);
  try {
    return toMeta(ref.key, await upload(ctx, ref, body, resource, conditions, options.size, signal, reference));
  } catch (err) {
    throw await uploadFailure(ctx, err, ref, options.preconditions, signal, reference, "writing");
  }
}

export async function append(
  ctx: GcsContext,
  ref: Ref,
  body: AsyncIterable<Uint8Array>,
  options: AppendOptions,
  signal: AbortSignal,
): Promise<ObjectMeta> {
  const reference = checkedReference(ref);
  checkWritableKey(ctx, ref, reference);
  const check = (current: GcsObject | undefined): void =>
    checkAppend(current === undefined ? undefined : toMeta(ref.key, current), options, reference, GCS_KIND);
  let current = await headResource(ctx, ref, signal);
  check(current); // fail fast, before taking the body
  const staging: Ref = { ...ref, key: `${ctx.tempPrefix}append/${randomUUID()}` };
  let staged: GcsObject;
  try {
    staged = await upload(ctx, staging, body, uploadResource("", {}, undefined), { ifGenerationMatch: 0 }, undefined, signal, reference);
  } catch (err) {
    throw await uploadFailure(ctx, err, staging, {}, signal, reference, "appending to");
  }
  try {
    for (let attempt = 1; ; attempt++) {
      check(current);
      const stagedSource = { name: staging.key, generation: Number(staged.generation) };
      const sources = current === undefined ? [stagedSource] : [{ name: ref.key, generation: Number(current.generation) }, stagedSource];
      const destination =
        current === undefined
          ? { contentType: contentTypeOrDefault(options.contentType), metadata: {} }
          : { contentType: contentTypeOrDefault(current.contentType ?? ""), metadata: carriedMetadata(current) };
      const conditions: Conditions = current === undefined ? { ifGenerationMatch: 0 } : versionConditions(current);
      try {
        // Not retried blindly: a compose whose answer was lost may have applied, and a second one would append twice.
        const composed = await retrying(
          ctx,
          reference,
          "appending to",
          signal,
          (s) => composeInto(ctx, ref, sources, destination, conditions, s),
          false,
        );
        return toMeta(ref.key, composed);
      } catch (err) {
        const status = gcsStatus(err);
        if ((status !== 412 && status !== 404) || signal.aborted) throw fail(ctx, err, reference, "appending to");
        // Another writer got there first (412, or 404: the version we composed from is gone).
        const before = current?.generation;
        current = await headResource(ctx, ref, signal);
        if (status === 404 && current?.generation === before) {
          throw new StowdError("INTERNAL", `the staging object of an append to ${reference} disappeared; nothing was appended`, {
            reference,
            backend: GCS_KIND,
            cause: err,
          });
        }
        if (attempt >= APPEND_ATTEMPTS) {
          throw new StowdError(
            "BACKEND_UNAVAILABLE",
            `${reference} kept changing during the append (${attempt} attempts); nothing was appended`,
            { reference, backend: GCS_KIND, cause: err },
          );
        }
        await sleep(Math.random() * Math.min(200, 5 * 2 ** attempt), undefined, { signal }).catch(() => {});
        throwIfAborted(signal, reference);
      }
    }
  } finally {
    await removeQuietly(ctx, staging);
  }
}

async function composeInto(
  ctx: GcsContext,
  ref: Ref,
  sources: Array<{ name: string; generation: number }>,
  destination: { contentType: string; metadata: Record<string, string> },
  conditions: Conditions,
  signal: AbortSignal,
): Promise<GcsObject> {
  return apiRequest<GcsObject>(
    ctx.storage.bucket(ref.container),
    {
      method: "POST",
      uri: `/o/${encodeURIComponent(ref.key)}/compose`,
      qs: conditions,
      json: { kind: "storage#composeRequest", sourceObjects: sources, destination },
    },
    signal,
  );
}

async function removeQuietly(ctx: GcsContext, ref: Ref): Promise<void> {
  const signal = AbortSignal.timeout(ctx.policy.totalTimeoutMs);
  await retrying(ctx, checkedReference(ref), "removing", signal, (s) =>
    settleOrAbort(fileOf(ctx, ref).delete({ ignoreNotFound: true }), s),
  ).catch(() => {});
}
