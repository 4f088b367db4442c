// One log line per call: request id, op, reference, the caller (who, and
// how they proved it), bytes in and out, duration and status code. The request id is the caller's `x-request-id`
// header (gRPC metadata or HTTP header) when it is a sane token, else a new
// UUID; it is also returned as the `x-request-id` response header on the HTTP
// port. Nothing from the request but its references is logged — no headers,
// no metadata, no payload — and a reference's userinfo password (say
// redis://user:pass@host/key) is masked, so credentials never reach the log.
import { randomUUID } from "node:crypto";
import type { ConnectError, HandlerContext } from "@connectrpc/connect";
import { logTrusted, type LogLevel } from "../observability/log.js";
import { codeLabel } from "../observability/metrics.js";
import { boundedText } from "./error-text.js";
import { payloadBytes } from "./message-payload.js";
import { requestHeaderOf } from "./request-header.js";

export const REQUEST_ID_HEADER = "x-request-id";
const SANE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
/** A log line names its reference, not a hostile MiB of it. */
const MAX_LOGGED_REFERENCE_BYTES = 1024;

/** The caller's request id when it is 1-128 visible ASCII characters, else a fresh UUID. */
export function requestIdOf(ctx: HandlerContext): string {
  const given = requestHeaderOf(ctx, REQUEST_ID_HEADER);
  return given !== null && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Masks the password of every URL's userinfo in `text`: `redis://u:secret@h/k` → `redis://u:***@h/k`.
 * The lookbehind lets a scheme start only where a word starts, so a long run
 * of letters (a hostile 1 MiB key) is scanned once, not once per letter.
 */
export function maskReference(text: string): string {
  return text.replace(/(?<![a-zA-Z0-9+.-])([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/@:\s]*):[^/@\s]*@/g, "$1:***@");
}

/**
 * A reference, or a text naming one, as every log line shows it: masked
 * first (the password may sit anywhere before the cut), then bounded. The
 * per-call line and the "call denied" line (server/security/authorize.ts)
 * both log through it.
 */
export function loggedReference(text: string): string {
  return boundedText(maskReference(text), MAX_LOGGED_REFERENCE_BYTES);
}

interface Referencing {
  reference?: unknown;
  sourceReference?: unknown;
  destinationReference?: unknown;
  baseReference?: unknown;
  body?: { case?: unknown; value?: unknown };
}

/** The references a request names, for the log: `reference`, or `source` and `destination` for a copy. */
export function referencesOf(request: unknown): { reference?: string; destination?: string } {
  if (typeof request !== "object" || request === null) return {};
  const r = request as Referencing;
  const header = r.body?.case === "header" ? (r.body.value as Referencing | undefined) : undefined;
  const reference = [r.reference, r.sourceReference, r.baseReference, header?.reference].find(
    (v): v is string => typeof v === "string" && v !== "",
  );
  const out: { reference?: string; destination?: string } = {};
  if (reference !== undefined) out.reference = loggedReference(reference);
  if (typeof r.destinationReference === "string" && r.destinationReference !== "")
    out.destination = loggedReference(r.destinationReference);
  return out;
}

export interface CallRecord {
  requestId: string;
  op: string;
  reference?: string;
  destination?: string;
  bytesIn: number;
  bytesOut: number;
  startedAt: number;
}

/** Who made a call, as the access log names them: a token's or a client certificate's name, or a URL's signer. */
export interface CallerIdentity {
  name: string;
  /** How the caller was identified: "token", "client certificate", "signed URL". */
  via: string;
}

/** Who made the call in `ctx`, once it has run (server/security/caller-identity.ts); undefined for an anonymous call. */
export type IdentifyCaller = (ctx: HandlerContext) => CallerIdentity | undefined;

/** The log fields naming the caller: `caller` and `via`, none for an anonymous call. */
export function callerFields(caller: CallerIdentity | undefined): { caller?: string; via?: string } {
  return caller === undefined ? {} : { caller: caller.name, via: caller.via };
}

/** Server-side failures are errors; everything else, client mistakes included, is an ordinary call. */
const ERROR_CODES = new Set(["INTERNAL", "UNKNOWN", "DATA_LOSS"]);

/** Starts the record of a call: its request id (also sent back as the `x-request-id` response header) and, given its request, the references and bytes in. */
export function startCallRecord(ctx: HandlerContext, op: string, request: unknown): CallRecord {
  const requestId = requestIdOf(ctx);
  ctx.responseHeader.set(REQUEST_ID_HEADER, requestId);
  return { requestId, op, ...referencesOf(request), bytesIn: payloadBytes(request), bytesOut: 0, startedAt: performance.now() };
}

/** Logs the call's line; `code` is codeLabel(error), passed in when the caller has it already; `caller` who made the call. */
export function logCall(
  record: CallRecord,
  error: ConnectError | undefined,
  code: string = codeLabel(error),
  caller: CallerIdentity | undefined = undefined,
): void {
  const level: LogLevel = ERROR_CODES.has(code) ? "error" : "info";
  logTrusted(level, "call", {
    requestId: record.requestId,
    op: record.op,
    ...(record.reference === undefined ? {} : { reference: record.reference }),
    ...(record.destination === undefined ? {} : { destination: record.destination }),
    ...callerFields(caller),
    bytesIn: record.bytesIn,
    bytesOut: record.bytesOut,
    durationMs: Math.round((performance.now() - record.startedAt) * 1000) / 1000,
    code,
    ...(error === undefined ? {} : { error: maskReference(error.rawMessage) }),
  });
}
