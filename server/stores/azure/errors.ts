// Turns @azure/storage-blob failures into StowdErrors, once, at the store's
// edge: the HTTP status and Azure's error code (x-ms-error-code) decide the
// reason. Messages name the reference, what failed and what to do, never the
// endpoint or the storage account: network failures, 5xx and a missing
// container are logged with both, so an operator sees which backend is down
// (kit/backend-error-text.ts). Also decides which failures are worth a retry.
import { RestError } from "@azure/storage-blob";
import { StowdError, isStowdError } from "../../../common/errors.js";
import { abortError } from "../kit/abort.js";
import { messageWithoutEndpoint, reportBackendFailure, withoutWhereabouts, type BackendWhereabouts } from "../kit/backend-error-text.js";

export const AZURE_KIND = "azure";

/** Network error codes that mean "the endpoint did not answer"; worth a retry. */
const TRANSIENT_NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "REQUEST_SEND_ERROR",
]);

export interface AzureFailure {
  status: number | undefined;
  /** Azure's error code (BlobNotFound, ConditionNotMet, ...) or a network code (ECONNREFUSED). */
  code: string;
}

/** The status and Azure error code of an SDK error; undefined for anything else. */
export function azureFailure(err: unknown): AzureFailure | undefined {
  if (err instanceof RestError) {
    const details = err.details as { errorCode?: unknown } | undefined;
    const fromHeader = err.response?.headers.get("x-ms-error-code");
    const code = typeof details?.errorCode === "string" ? details.errorCode : (fromHeader ?? err.code ?? "");
    return { status: err.statusCode, code };
  }
  // Node's own socket errors, should one escape the SDK unwrapped.
  const code = (err as { code?: unknown } | undefined)?.code;
  return err instanceof Error && typeof code === "string" && TRANSIENT_NETWORK_CODES.has(code) ? { status: undefined, code } : undefined;
}

/** True when `err` is an Azure answer with this status (and, when given, one of these codes). */
export function isAzure(err: unknown, status: number, ...codes: string[]): boolean {
  const failure = azureFailure(err);
  return failure?.status === status && (codes.length === 0 || codes.includes(failure.code));
}

/** Throttling, server errors and connection failures; anything else would fail again. */
export function isRetryableAzureError(err: unknown): boolean {
  const failure = azureFailure(err);
  if (failure === undefined) return false;
  if (failure.status === undefined || failure.status === 0) return TRANSIENT_NETWORK_CODES.has(failure.code);
  return failure.status === 408 || failure.status === 429 || failure.status >= 500;
}

export interface AzureErrorContext {
  /** The reference the call was about. */
  reference: string;
  /** The caller's signal: an abort wins over whatever the SDK threw. */
  signal: AbortSignal;
  /** The container, for ContainerNotFound. */
  container: string;
  /** The storage account, for the daemon's log (never sent to a client). */
  account: string;
  /** The blob service URL (no credentials), for the daemon's log (never sent to a client). */
  endpoint: string;
  /** What was attempted, for the log; default "a call". */
  operation?: string;
}

/** The StowdError for a failed backend call. */
export function fromAzureError(err: unknown, ctx: AzureErrorContext): StowdError {
  if (ctx.signal.aborted) return abortError(ctx.signal, ctx.reference);
  const where: BackendWhereabouts = { backend: AZURE_KIND, endpoint: ctx.endpoint, account: ctx.account };
  const report = (error: StowdError, always = false) =>
    reportBackendFailure(error, where, { operation: ctx.operation ?? "a call", cause: err, always });
  if (isStowdError(err)) {
    const message = messageWithoutEndpoint(err.message, ctx.endpoint);
    return message === err.message ? err : report(new StowdError(err.reason, message, err.facts));
  }
  const { reference } = ctx;
  const facts = { reference, backend: AZURE_KIND, cause: err };
  const failure = azureFailure(err);
  if (failure === undefined) {
    return report(
      new StowdError(
        "INTERNAL",
        `the azure backend failed on ${reference}: ${withoutWhereabouts(err instanceof Error ? err.message : String(err), where)}`,
        facts,
      ),
    );
  }
  const { status, code } = failure;
  const detail = code === "" ? `HTTP ${status}` : `${code}${status === undefined ? "" : `, HTTP ${status}`}`;
  if (status === undefined || status === 0) {
    return report(
      new StowdError(
        "BACKEND_UNAVAILABLE",
        `the azure backend could not be reached for ${reference} (${detail}); retry later (the daemon's log names the endpoint)`,
        facts,
      ),
    );
  }
  if (status === 404 && code === "ContainerNotFound") {
    return report(
      new StowdError(
        "NOT_FOUND",
        `container "${ctx.container}" does not exist in the azure backend's storage account; stowd does not create containers, so create it or fix the reference ${reference}`,
        facts,
      ),
      true,
    );
  }
  if (status === 404) return new StowdError("NOT_FOUND", `${reference} does not exist`, facts);
  if (status === 401)
    return report(
      new StowdError("UNAUTHENTICATED", `the azure backend did not accept the credentials for ${reference} (${detail})`, facts),
    );
  if (status === 403) {
    return report(
      new StowdError(
        "PERMISSION_DENIED",
        `the azure backend refused access to ${reference} (${detail}); check the account key or the permissions of the identity`,
        facts,
      ),
    );
  }
  if (status === 409 && code === "BlobAlreadyExists")
    return new StowdError("ALREADY_EXISTS", `${reference} already exists; nothing was written`, facts);
  if (status === 409 && code === "BlockCountExceedsLimit") {
    return new StowdError(
      "LIMIT_EXCEEDED",
      `${reference} has reached Azure's limit of 50,000 committed blocks; rewrite the object to compact it`,
      { ...facts, limit: 50_000 },
    );
  }
  if (status === 409 && code === "InvalidBlobType") {
    return new StowdError(
      "UNSUPPORTED",
      `${reference} is a page or append blob, which this operation cannot change; stowd writes block blobs`,
      facts,
    );
  }
  if (status === 412 || (status === 409 && code.startsWith("Lease"))) {
    return new StowdError("PRECONDITION_FAILED", `a condition on ${reference} was not met (${detail}); nothing was changed`, facts);
  }
  if (status === 416) return new StowdError("OUT_OF_RANGE", `the requested range is past the end of ${reference}`, facts);
  if (status === 400 && code === "InvalidBlockList") {
    // Azure keeps one set of uncommitted blocks per blob and drops it on every commit:
    // another writer committed the same blob while this upload was staging.
    return new StowdError(
      "BACKEND_UNAVAILABLE",
      `a concurrent write to ${reference} discarded this upload's staged blocks; nothing was written, retry the call`,
      facts,
    );
  }
  if (status === 400 && (code === "InvalidResourceName" || code === "InvalidUri" || code === "OutOfRangeInput")) {
    return new StowdError("INVALID_REFERENCE", `azure refused the name of ${reference} (${detail})`, { ...facts, field: "reference" });
  }
  if (status === 408 || status === 429 || status >= 500) {
    return report(new StowdError("BACKEND_UNAVAILABLE", `the azure backend failed for ${reference} (${detail}); retry later`, facts));
  }
  return report(
    new StowdError(
      "INTERNAL",
      `the azure backend refused a request for ${reference} (${detail}): ${err instanceof Error ? withoutWhereabouts(err.message, where) : ""}`,
      facts,
    ),
  );
}
