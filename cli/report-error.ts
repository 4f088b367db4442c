// How a failure is told: one line on stderr naming the command and what went
// wrong (with a hint where one helps), or with --json one JSON line carrying
// the code, reason and reference a script can act on.
import { Code } from "@connectrpc/connect";
import { ErrorReason, StowdClientError } from "../client/index.js";
import { StowdError } from "../common/errors.js";
import { codeOf } from "./exit-codes.js";

export interface ReportOptions {
  command: string;
  json: boolean;
  address: string;
  exitCode: number;
  stderr: NodeJS.WritableStream;
}

export function reportError(err: unknown, o: ReportOptions): void {
  const code = codeOf(err);
  const message = messageOf(err, o.address);
  if (o.json) {
    const error = {
      code: codeName(code),
      reason: reasonOf(err),
      message,
      reference: err instanceof StowdClientError ? err.reference : err instanceof StowdError ? (err.facts.reference ?? "") : "",
    };
    o.stderr.write(`${JSON.stringify({ error, exitCode: o.exitCode })}\n`);
    return;
  }
  const hint = o.exitCode === 2 ? ` (stowd ${o.command === "" ? "" : `${o.command} `}--help lists the options)` : "";
  o.stderr.write(`stowd${o.command === "" ? "" : ` ${o.command}`}: ${message}${hint}\n`);
}

function messageOf(err: unknown, address: string): string {
  if (err instanceof StowdClientError) {
    const text = err.cause.rawMessage;
    // Without a stowd detail, UNAVAILABLE is the connection itself; the daemon's own says BACKEND_UNAVAILABLE.
    if (err.code === Code.Unavailable && err.reason === ErrorReason.UNSPECIFIED) {
      return `cannot reach the daemon at ${address}: ${text} (is it running? --address or STOWD_ADDRESS names it)`;
    }
    if (err.code === Code.DeadlineExceeded) return `${text} (--timeout sets the deadline)`;
    if (err.code === Code.Unauthenticated) return `${text} (stowd sends a token with --token or STOWD_TOKEN)`;
    if (isCertificateError(err))
      return `${text}: the daemon's TLS certificate is not trusted here (--ca-file or STOWD_CA_FILE names the CA that signed it)`;
    return text;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Node's TLS verification failures (UNABLE_TO_VERIFY_LEAF_SIGNATURE, DEPTH_ZERO_SELF_SIGNED_CERT, ERR_TLS_CERT_ALTNAME_INVALID, ...) anywhere in the cause chain. */
function isCertificateError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) return true;
  }
  return false;
}

/** NotFound → "NOT_FOUND", as gRPC names its codes. */
function codeName(code: Code): string {
  return (Code[code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

function reasonOf(err: unknown): string {
  if (err instanceof StowdClientError) return ErrorReason[err.reason] ?? "UNSPECIFIED";
  if (err instanceof StowdError) return err.reason;
  return "UNSPECIFIED";
}
