// Converts what @google-cloud/storage fails with into StowdErrors, once,
// keeping the cause. The SDK fails in several shapes: ApiError (JSON API
// calls: `code` = HTTP status), plain `{code, message}` objects (a resumable
// upload's error body), gaxios errors (`response.status`, or a system
// `code`), node-fetch system errors (`code` = ECONNREFUSED, ...), and for
// resumable uploads with retries off, a plain Error whose message is all
// that is left ("Retry limit exceeded - ... code: ECONNREFUSED").
// Messages name the reference, what failed and what to do, never the
// endpoint: that goes to the daemon's log (kit/backend-error-text.ts).
import { StowdError } from "../../../common/errors.js";
import { messageWithoutEndpoint, reportBackendFailure, withoutWhereabouts, type BackendWhereabouts } from "../kit/backend-error-text.js";

export const GCS_KIND = "gcs";
const NETWORK =
  /\b(ECONNREFUSED|ECONNRESET|ECONNABORTED|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ESOCKETTIMEDOUT|socket hang up|other side closed|premature close)\b/i;

function field(err: unknown, name: string): unknown {
  return err !== null && typeof err === "object" ? (err as Record<string, unknown>)[name] : undefined;
}

function messageOf(err: unknown): string {
  const message = field(err, "message");
  return typeof message === "string" ? message : String(err);
}

/** The HTTP status GCS answered with, when the failure is an answer. */
export function gcsStatus(err: unknown): number | undefined {
  const code = field(err, "code");
  if (typeof code === "number" && code >= 100 && code < 600) return code;
  if (typeof code === "string" && /^[1-5]\d\d$/.test(code)) return Number(code);
  const status = field(field(err, "response"), "status");
  if (typeof status === "number") return status;
  const inner = field(err, "status");
  return typeof inner === "number" && inner >= 100 && inner < 600 ? inner : undefined;
}

/** The system error code of a failure that never got an answer. */
function networkCode(err: unknown): string | undefined {
  const code = field(err, "code");
  if (typeof code === "string" && NETWORK.test(code)) return code;
  const errno = field(err, "errno");
  if (typeof errno === "string" && NETWORK.test(errno)) return errno;
  return NETWORK.exec(messageOf(err))?.[1];
}

/** node-fetch's and gaxios's own request timeouts (the SDK's `timeout`, set a little above the attempt timeout). */
function isRequestTimeout(err: unknown): boolean {
  return field(err, "type") === "request-timeout" || /network timeout at/i.test(messageOf(err));
}

/** Worth another attempt: throttling, server errors, a broken connection. */
export function isRetryableGcsError(err: unknown): boolean {
  if (err instanceof StowdError) return false;
  const status = gcsStatus(err);
  if (status !== undefined) return status === 408 || status === 429 || status >= 500;
  return networkCode(err) !== undefined || isRequestTimeout(err);
}

export interface GcsErrorContext {
  /** The reference the call was about. */
  reference: string;
  /** What was attempted, e.g. "reading". */
  doing: string;
  /** The API endpoint, for the daemon's log (never sent to a client). */
  endpoint: string;
}

/** The StowdError for a failure the caller did not handle itself (404 and 412 usually are). */
export function fromGcsError(err: unknown, { reference, doing, endpoint }: GcsErrorContext): StowdError {
  const where: BackendWhereabouts = { backend: GCS_KIND, endpoint };
  const report = (error: StowdError) => reportBackendFailure(error, where, { operation: `${doing} ${reference}`, cause: err });
  if (err instanceof StowdError) {
    const message = messageWithoutEndpoint(err.message, endpoint);
    return message === err.message ? err : report(new StowdError(err.reason, message, err.facts));
  }
  const facts = { reference, backend: GCS_KIND, cause: err };
  const detail = withoutWhereabouts(messageOf(err), where);
  const status = gcsStatus(err);
  if (status !== undefined) {
    switch (status) {
      case 400:
        return new StowdError("INVALID_ARGUMENT", `GCS refused ${doing} ${reference}: ${detail}`, facts);
      case 401:
        return report(
          new StowdError("UNAUTHENTICATED", `GCS did not accept stowd's credentials while ${doing} ${reference}: ${detail}`, facts),
        );
      case 403:
        return report(
          new StowdError(
            "PERMISSION_DENIED",
            `GCS denied ${doing} ${reference} (403): ${detail}; check the service account's IAM roles on the bucket`,
            facts,
          ),
        );
      case 404:
        return new StowdError("NOT_FOUND", `${reference} does not exist`, facts);
      case 409:
      case 412:
        return new StowdError("PRECONDITION_FAILED", `${reference} changed while ${doing} it; nothing was changed (${status})`, facts);
      case 416:
        return new StowdError("OUT_OF_RANGE", `the range is past the end of ${reference}`, facts);
      case 429:
        return report(
          new StowdError(
            "BACKEND_UNAVAILABLE",
            `GCS is throttling requests (429) while ${doing} ${reference}; retries ran out, retry later`,
            facts,
          ),
        );
      default:
        if (status >= 500) {
          return report(
            new StowdError(
              "BACKEND_UNAVAILABLE",
              `GCS failed with ${status} while ${doing} ${reference}; retries ran out, retry later: ${detail}`,
              facts,
            ),
          );
        }
        return report(new StowdError("INTERNAL", `GCS answered ${status} while ${doing} ${reference}: ${detail}`, facts));
    }
  }
  if (isRequestTimeout(err)) {
    return report(new StowdError("DEADLINE_EXCEEDED", `GCS did not answer in time while ${doing} ${reference}`, facts));
  }
  const code = networkCode(err);
  if (code !== undefined) {
    return report(
      new StowdError(
        "BACKEND_UNAVAILABLE",
        `cannot reach GCS (${code}) while ${doing} ${reference}; retry later (the daemon's log names the endpoint)`,
        facts,
      ),
    );
  }
  const errorCode = field(err, "code");
  if (errorCode === "CONTENT_DOWNLOAD_MISMATCH") {
    return new StowdError("CHECKSUM_MISMATCH", `the bytes GCS sent for ${reference} do not match its stored checksum`, facts);
  }
  return report(new StowdError("INTERNAL", `the gcs backend failed while ${doing} ${reference}: ${detail}`, facts));
}

/** The error for a bucket that does not exist. stowd never creates buckets. */
export function bucketMissing(bucket: string, reference: string): StowdError {
  return new StowdError("NOT_FOUND", `the GCS bucket "${bucket}" does not exist; stowd does not create buckets, so create it first`, {
    reference,
    backend: GCS_KIND,
  });
}
