// The authorization wrapper: applied to each service implementation in
// daemon.ts (inside the call boundary), so the gRPC and HTTP ports enforce
// exactly the same rules. Each call is authenticated first (UNAUTHENTICATED
// before anything else), then every reference it touches is parsed with the
// services' own parser and checked against the caller's grants
// (PERMISSION_DENIED naming the operation and reference). One warn log line
// per denied call, naming the caller but never a token, with its reference
// and reason masked and bounded as the per-call line does (call-log.ts).
import type { DescService } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { StowdError } from "../../common/errors.js";
import { log } from "../observability/log.js";
import { parsePrefixReference, parseReference } from "../references/reference.js";
import { loggedReference } from "../services/call-log.js";
import { authenticate, type Credentials, type Principal } from "./authenticate.js";
import { allows, prefixesFor } from "./grants.js";
import { PEER_IDENTITY } from "./peer-identity.js";
import { RPC_NEEDS, type Need } from "./rpc-permissions.js";

export interface AuthorizationOptions {
  /** The credentials in force; read per call so a SIGHUP reload of the token file applies to the next call. */
  credentials: () => Credentials;
}

type AnyFn = (...args: never[]) => unknown;
interface Framed {
  body: { case: string | undefined; value?: unknown };
}

export function withAuthorization<S extends DescService>(service: S, impl: ServiceImpl<S>, options: AuthorizationOptions): ServiceImpl<S> {
  const wrapped: Record<string, unknown> = {};
  const methods = impl as unknown as Record<string, AnyFn>;
  for (const method of service.methods) {
    const rpc = `${service.typeName}/${method.name}`;
    const needsOf = RPC_NEEDS[rpc] as ((request: unknown) => Need[]) | undefined;
    if (needsOf === undefined) throw new Error(`${rpc} has no entry in server/security/rpc-permissions.ts; say which operations it needs before serving it`);
    const fn = methods[method.localName] as unknown as (req: unknown, ctx: HandlerContext) => unknown;

    const check = (ctx: HandlerContext, request: unknown | undefined): void => {
      let principal: Principal | undefined;
      try {
        principal = authenticate(options.credentials(), ctx.requestHeader.get("authorization"), ctx.values.get(PEER_IDENTITY));
        if (request !== undefined) for (const need of needsOf(request)) authorizeOne(principal, need);
      } catch (err) {
        if (err instanceof StowdError && (err.reason === "UNAUTHENTICATED" || err.reason === "PERMISSION_DENIED")) {
          log("warn", "call denied", {
            rpc,
            code: err.reason,
            caller: principal?.name ?? null,
            ...(err.facts.reference === undefined ? {} : { reference: loggedReference(err.facts.reference) }),
            reason: loggedReference(err.message),
          });
        }
        throw err;
      }
    };

    switch (method.methodKind) {
      case "unary":
        wrapped[method.localName] = async (req: unknown, ctx: HandlerContext) => {
          check(ctx, req);
          return await fn(req, ctx);
        };
        break;
      case "server_streaming":
        wrapped[method.localName] = async function* (req: unknown, ctx: HandlerContext) {
          check(ctx, req);
          yield* fn(req, ctx) as AsyncIterable<unknown>;
        };
        break;
      case "client_streaming":
        wrapped[method.localName] = async (requests: AsyncIterable<Framed>, ctx: HandlerContext) => {
          check(ctx, undefined);
          // The references are in the header, the stream's first message: read
          // it, check it, and hand the service the stream as it was.
          const iterator = requests[Symbol.asyncIterator]();
          const first = await iterator.next();
          if (!first.done && first.value.body.case === "header") {
            try {
              check(ctx, first.value.body.value);
            } catch (err) {
              await iterator.return?.();
              throw err;
            }
          }
          return await fn(replay(first, iterator), ctx);
        };
        break;
      default:
        throw new Error(`${rpc}: ${method.methodKind} methods are not authorized by server/security/authorize.ts`);
    }
  }
  return wrapped as ServiceImpl<S>;
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

async function* replay<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  try {
    if (first.done) return;
    yield first.value;
    for (;;) {
      const next = await rest.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await rest.return?.();
  }
}
