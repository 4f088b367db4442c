// What a backend failure may tell a client, and what goes to the daemon's
// log instead. The error converters (s3/errors.ts, azure/errors.ts,
// gcs/errors.ts) word client messages from the reference, what failed and
// what to do, never from where the backend lives: a client of a shared
// daemon learns nothing of the network behind it (endpoint URLs, host names,
// addresses, ports) nor of the storage account it uses. An SDK's own error
// text, which often names them ("connect ECONNREFUSED 10.0.0.5:9000",
// "request to http://gcs.internal:4443/... failed"), passes through
// withoutWhereabouts before it reaches a message. The full detail, endpoint
// and account included, goes to the log: one warn line per backend call that
// failed for a reason an operator must act on (unreachable, timed out,
// refused credentials, a missing bucket, an unexpected answer); answers a
// caller caused (not found, precondition failed, out of range) are not logged
// here, the call log has them.
import type { StowdError } from "../../../common/errors.js";
import { log } from "../../observability/log.js";

/** Where a backend lives: for the daemon's log only, never for a client. */
export interface BackendWhereabouts {
  /** Backend kind, e.g. "s3". */
  backend: string;
  /** The endpoint URL the backend is reached at. */
  endpoint: string;
  /** The storage account, for backends that have one. */
  account?: string;
}

/** An http(s) URL, up to whitespace or a closing quote or bracket. */
const HTTP_URL = /\bhttps?:\/\/[^\s"'<>()[\]]+/gi;
/** An IPv4 address, with a port when one follows. */
const IPV4 = /(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.])/g;
/** An IPv6 address in brackets (URL form), or bare as Node's socket errors print it ("::1:9000", "fd00::5:443"). */
const IPV6 = /\[[0-9a-f:.]+\](?::\d{1,5})?|(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?::\d{1,5})?(?![\w:])/gi;
/** Query parameters that carry credentials in signed URLs (S3, GCS, Azure SAS) and OAuth. */
const URL_CREDENTIALS =
  /([?&](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|access_token|token|code)=)[^&\s"'<>]*/gi;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The host forms of an endpoint URL ("h:9000", "h"), longest first. */
function hostsOf(endpoint: string): string[] {
  try {
    const url = new URL(endpoint);
    return [...new Set([url.host, url.hostname.replace(/^\[|\]$/g, "")])].filter((h) => h !== "");
  } catch {
    return [];
  }
}

/**
 * `text` from a backend SDK, fit for a message to a client: its first line,
 * without URLs, the endpoint's host, IP addresses and ports, or the storage
 * account, each replaced by a placeholder, and at most 300 characters.
 */
export function withoutWhereabouts(text: string, where: BackendWhereabouts): string {
  let out = text.split("\n")[0] ?? "";
  out = out.replace(HTTP_URL, "<endpoint>");
  for (const host of hostsOf(where.endpoint)) out = out.replace(new RegExp(escapeRegExp(host), "gi"), "<endpoint>");
  out = out
    .replace(IPV4, "<address>")
    .replace(IPV6, "<address>")
    .replace(/<(endpoint|address)>:\d{1,5}\b/g, "<$1>");
  if (where.account !== undefined && where.account !== "") {
    out = out.replace(new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(where.account)}(?![A-Za-z0-9])`, "gi"), "<account>");
  }
  return out.length > 300 ? `${out.slice(0, 300)}...` : out;
}

/**
 * An error stowd built itself (a retry loop's timeout, say) without its
 * mention of the endpoint: ` at <endpoint URL>` goes, any other mention of
 * the URL becomes "<endpoint>". The rest, references included, stays as is.
 */
export function messageWithoutEndpoint(message: string, endpoint: string): string {
  if (endpoint === "" || !message.includes(endpoint)) return message;
  return message.split(` at ${endpoint}`).join("").split(endpoint).join("<endpoint>");
}

/** Reasons that point at the backend or the daemon's configuration, not at the caller's request. */
const OPERATOR_REASONS = new Set(["BACKEND_UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "UNAUTHENTICATED", "PERMISSION_DENIED"]);

/**
 * Logs the full story of a failed backend call when an operator must act on
 * it (or always, with `always`), then returns `error` for the caller to throw.
 */
export function reportBackendFailure(
  error: StowdError,
  where: BackendWhereabouts,
  detail: { operation: string; cause: unknown; always?: boolean },
): StowdError {
  if (detail.always === true || OPERATOR_REASONS.has(error.reason)) {
    log("warn", "backend call failed", {
      backend: where.backend,
      endpoint: where.endpoint,
      ...(where.account === undefined ? {} : { account: where.account }),
      operation: detail.operation,
      ...(error.facts.reference === undefined ? {} : { reference: error.facts.reference }),
      reason: error.reason,
      error: detail.cause === undefined ? "" : describeCause(detail.cause),
    });
  }
  return error;
}

/** An SDK error as the log shows it: name, code, status and message, with signed-URL credentials masked. */
function describeCause(cause: unknown): string {
  const e = cause as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    statusCode?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    message?: unknown;
  };
  const parts = [e?.name, e?.Code ?? e?.code, e?.statusCode ?? e?.$metadata?.httpStatusCode].filter(
    (p) => typeof p === "string" || typeof p === "number",
  );
  const message = cause instanceof Error || typeof e?.message === "string" ? String(e.message) : String(cause);
  const text = `${parts.join(" ")}${parts.length > 0 ? ": " : ""}${message}`.replace(URL_CREDENTIALS, "$1***");
  return text.length > 2000 ? `${text.slice(0, 2000)}...` : text;
}
