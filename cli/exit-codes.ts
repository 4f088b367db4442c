// The CLI's exit codes, one per kind of failure a script may want to act on,
// and how a failure is mapped to one. Listed in every command's --help.
import { Code } from "@connectrpc/connect";
import { StowdClientError } from "../client/index.js";
import { StowdError } from "../common/errors.js";
import { UsageError } from "./usage-error.js";

export const EXIT = {
  ok: 0,
  /** Any other failure: the daemon unreachable, an invalid reference, a limit, ... */
  error: 1,
  usage: 2,
  notFound: 3,
  /** Permission denied or unauthenticated (e.g. a container outside enable-multicontainer). */
  denied: 4,
  /** A precondition failed: the object exists (--if-not-exists) or its etag differs (--if-match). */
  conflict: 5,
  /** Ctrl-C: the running call was cancelled. */
  interrupted: 130,
} as const;

export const EXIT_CODES_HELP = `exit codes:
  0 ok    1 other error    2 usage error    3 not found
  4 permission denied / unauthenticated    5 exists or precondition failed
  130 interrupted (Ctrl-C)`;

/** The gRPC-style code a failure carries, whether the daemon, the SDK or the CLI raised it. */
export function codeOf(err: unknown): Code {
  if (err instanceof StowdClientError || err instanceof StowdError) return err.code;
  return Code.Unknown;
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  switch (codeOf(err)) {
    case Code.NotFound:
      return EXIT.notFound;
    case Code.PermissionDenied:
    case Code.Unauthenticated:
      return EXIT.denied;
    case Code.AlreadyExists:
    case Code.FailedPrecondition:
      return EXIT.conflict;
    default:
      return EXIT.error;
  }
}
