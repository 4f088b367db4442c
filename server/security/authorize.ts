// Authorization, a stage of the call pipeline (server/calls/call-pipeline.ts),
// so the gRPC and HTTP ports enforce exactly the same rules. Each call is
// authenticated first (UNAUTHENTICATED before anything is read), then every
// reference it touches (for WriteRaw and Append: the references in the
// stream's header) is parsed with the services' own parser and checked
// against the caller's grants (PERMISSION_DENIED naming the operation and
// reference). One warn log line per denied call, naming the caller but never
// a token, with its reference and reason masked and bounded as the per-call
// line does (call-log.ts).
import { createContextKey } from "@connectrpc/connect";
import { StowdError } from "../../common/errors.js";
import { log } from "../observability/log.js";
import { parsePrefixReference, parseReference } from "../references/reference.js";
import { loggedReference } from "../calls/call-log.js";
import type { Authorization, RpcAuthorization } from "../calls/call-pipeline.js";
import { authenticate, type Credentials, type Principal } from "./authenticate.js";
import { CALLER } from "./caller.js";
import { allows, prefixesFor } from "./grants.js";
import { PEER_IDENTITY } from "./peer-identity.js";
import { RPC_NEEDS, type Need } from "./rpc-permissions.js";

export interface AuthorizationOptions {
  /** The credentials in force; read per call so a SIGHUP reload of the token file applies to the next call. */
  credentials: () => Credentials;
}

/**
 * What the request gate (server/transports/request-gate.ts) found when it
 * authenticated a request from its headers, before the body was read: the
 * caller, or the UNAUTHENTICATED error. The transports hand it to the call
 * so that authentication runs once; a call without it is authenticated here.
 */
export const GATE_AUTHENTICATION = createContextKey<Principal | Error | undefined>(undefined, {
  description: "the request gate's authentication of the call",
});

export function createAuthorization(options: AuthorizationOptions): Authorization {
  return {
    forRpc(rpc) {
      const needsOf = RPC_NEEDS[rpc] as ((request: unknown) => Need[]) | undefined;
      if (needsOf === undefined)
        throw new Error(`${rpc} has no entry in server/security/rpc-permissions.ts; say which operations it needs before serving it`);
      const denied = (err: unknown, principal: Principal | undefined): unknown => {
        if (err instanceof StowdError && (err.reason === "UNAUTHENTICATED" || err.reason === "PERMISSION_DENIED")) {
          log("warn", "call denied", {
            rpc,
            code: err.reason,
            caller: principal?.name ?? null,
            ...(err.facts.reference === undefined ? {} : { reference: loggedReference(err.facts.reference) }),
            reason: loggedReference(err.message),
          });
        }
        return err;
      };
      const checks: RpcAuthorization<Principal> = {
        authenticate(ctx) {
          try {
            const found =
              ctx.values.get(GATE_AUTHENTICATION) ??
              authenticate(options.credentials(), ctx.requestHeader.get("authorization"), ctx.values.get(PEER_IDENTITY));
            if (found instanceof Error) throw found;
            ctx.values.set(CALLER, found);
            return found;
          } catch (err) {
            throw denied(err, undefined);
          }
        },
        authorize(principal, request) {
          try {
            for (const need of needsOf(request)) authorizeOne(principal, need);
          } catch (err) {
            throw denied(err, principal);
          }
        },
      };
      return checks;
    },
  };
}

function authorizeOne(principal: Principal, need: Need): void {
  // A malformed reference fails here with the same INVALID_REFERENCE the service would send.
  const ref = need.prefix === true ? parsePrefixReference(need.reference, need.field) : parseReference(need.reference, need.field);
  if (allows(principal.grants, need.operation, ref)) return;
  const where = prefixesFor(principal.grants, need.operation);
  const grants = where.length === 0 ? `it has no ${need.operation} grant` : `its ${need.operation} grants cover ${where.join(", ")}`;
  throw new StowdError(
    "PERMISSION_DENIED",
    `${principal.name} (${principal.via}) may not ${need.operation} ${need.prefix === true ? "the prefix " : ""}${need.reference} (${need.field}${need.because === undefined ? "" : `; ${need.because}`}): ${grants}`,
    { reference: need.reference, field: need.field },
  );
}
