// Converts S3 SDK and network errors into StowdErrors, once, keeping the
// cause, and tells the retry loop which failures are worth another attempt.
// Messages name the reference, what failed and what to do, never the
// endpoint: that goes to the daemon's log (kit/backend-error-text.ts).
import { StowdError, isStowdError } from "../../../common/errors.js";
import { messageWithoutEndpoint, reportBackendFailure, withoutWhereabouts, type BackendWhereabouts } from "../kit/backend-error-text.js";

export const S3_KIND = "s3";

/** What a failed call was about, for the error message and facts. */
export interface S3ErrorContext {
  /** The reference the call was about (an object or a prefix). */
  reference: string;
  bucket: string;
  /** The endpoint URL, for the daemon's log (never sent to a client). */
  endpoint: string;
  /** What was attempted, e.g. "HEAD", "PUT", "LIST". */
  operation: string;
}

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  /** A string in Error and the SDK's exceptions; read through String() all the same. */
  message?: string;
  $metadata?: { httpStatusCode?: unknown };
}

/** The HTTP status of an S3 error response; undefined for network errors. */
export function s3Status(err: unknown): number | undefined {
  const status = (err as SdkErrorShape | null)?.$metadata?.httpStatusCode;
  return typeof status === "number" ? status : undefined;
}

/** The S3 error code (NoSuchKey, AccessDenied, ...) or Node error code (ECONNREFUSED, ...). */
export function s3Code(err: unknown): string {
  const e = err as SdkErrorShape | null;
  for (const value of [e?.Code, e?.code, e?.name]) if (typeof value === "string" && value !== "" && value !== "Error") return value;
  return "UnknownError";
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNABORTED",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);

const THROTTLING_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequests",
  "ServiceUnavailable",
  "InternalError",
]);

/** Is this a failure of the connection rather than an answer from S3? */
export function isNetworkError(err: unknown): boolean {
  if (s3Status(err) !== undefined) return false;
  const code = s3Code(err);
  const message = String((err as SdkErrorShape | null)?.message ?? "");
  return NETWORK_CODES.has(code) || /socket hang up|ECONNRESET|ECONNREFUSED|EPIPE|other side closed/i.test(message);
}

/** Worth another attempt: throttling, 5xx, 408/429 and connection failures. */
export function isRetryableS3Error(err: unknown): boolean {
  if (err instanceof StowdError) return false;
  const status = s3Status(err);
  if (status !== undefined) return status >= 500 || status === 408 || status === 429 || THROTTLING_CODES.has(s3Code(err));
  return isNetworkError(err);
}

/** A 412 from S3 (fromS3Error made it PRECONDITION_FAILED): the caller refines it with what it knows. */
export function isPreconditionFailure(err: unknown): boolean {
  return isStowdError(err, "PRECONDITION_FAILED") && s3Status(err.facts.cause) === 412;
}

function whereabouts(ctx: S3ErrorContext): BackendWhereabouts {
  return { backend: S3_KIND, endpoint: ctx.endpoint };
}

/** The status, code and message of an S3 failure, without the endpoint's whereabouts. */
function describe(err: unknown, ctx: S3ErrorContext): string {
  const status = s3Status(err);
  const code = s3Code(err);
  const message = withoutWhereabouts(String((err as SdkErrorShape | null)?.message ?? ""), whereabouts(ctx));
  const detail = message !== "" && message !== "UnknownError" && message !== code ? `: ${message}` : "";
  return status === undefined ? `${code}${detail}` : `HTTP ${status} ${code}${detail}`;
}

/** The error for a bucket that does not exist. stowd never creates buckets (Flyte did, and lost the write). */
export function noSuchBucket(ctx: S3ErrorContext, cause?: unknown): StowdError {
  const error = new StowdError(
    "NOT_FOUND",
    `bucket "${ctx.bucket}" does not exist on the s3 backend; stowd does not create buckets: create it, or correct the container of ${ctx.reference}`,
    { reference: ctx.reference, backend: S3_KIND, ...(cause === undefined ? {} : { cause }) },
  );
  return reportBackendFailure(error, whereabouts(ctx), { operation: ctx.operation, cause, always: true });
}

/**
 * Maps a failure of an S3 call. 412 and 416 get generic errors here; the
 * calls that send preconditions or ranges refine them with what they know.
 */
export function fromS3Error(err: unknown, ctx: S3ErrorContext): StowdError {
  if (err instanceof StowdError) {
    // Errors stowd built on the way (the retry loop's timeout names the endpoint for the log).
    const message = messageWithoutEndpoint(err.message, ctx.endpoint);
    if (message === err.message) return err;
    return reportBackendFailure(new StowdError(err.reason, message, err.facts), whereabouts(ctx), { operation: ctx.operation, cause: err });
  }
  const status = s3Status(err);
  const code = s3Code(err);
  const facts = { reference: ctx.reference, backend: S3_KIND, cause: err };
  const what = `${ctx.operation} ${ctx.reference}`;
  const report = (error: StowdError) => reportBackendFailure(error, whereabouts(ctx), { operation: ctx.operation, cause: err });
  if (code === "NoSuchBucket") return noSuchBucket(ctx, err);
  if (code === "NoSuchUpload") {
    return report(
      new StowdError(
        "INTERNAL",
        `${what} failed: the multipart upload was aborted by someone else (${describe(err, ctx)}); nothing was written`,
        facts,
      ),
    );
  }
  if (code === "NoSuchKey" || code === "NotFound" || status === 404) {
    return new StowdError("NOT_FOUND", `${ctx.reference} does not exist`, facts);
  }
  if (status === 401)
    return report(new StowdError("UNAUTHENTICATED", `${what} was refused (${describe(err, ctx)}): check the S3 credentials`, facts));
  if (status === 403) {
    return report(
      new StowdError(
        "PERMISSION_DENIED",
        `${what} was refused (${describe(err, ctx)}): check the S3 credentials and the bucket policy`,
        facts,
      ),
    );
  }
  if (status === 412)
    return new StowdError(
      "PRECONDITION_FAILED",
      `${ctx.reference} does not meet the precondition of ${ctx.operation}; nothing was changed`,
      facts,
    );
  if (status === 416) return new StowdError("OUT_OF_RANGE", `the requested range is outside ${ctx.reference}`, facts);
  if (status === 400 || code === "KeyTooLongError" || code === "MetadataTooLarge" || code === "InvalidArgument") {
    return new StowdError("INVALID_ARGUMENT", `${what} was rejected as invalid (${describe(err, ctx)})`, facts);
  }
  if (status === undefined ? isNetworkError(err) : isRetryableS3Error(err)) {
    return report(
      new StowdError(
        "BACKEND_UNAVAILABLE",
        `${what} failed: the s3 backend is unavailable (${describe(err, ctx)}); retry later (the daemon's log names the endpoint)`,
        facts,
      ),
    );
  }
  return report(new StowdError("INTERNAL", `${what} failed (${describe(err, ctx)})`, facts));
}
