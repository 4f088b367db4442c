// The one place errors leave the service layer: every StowdError becomes a
// ConnectError carrying a stowd.v1.ErrorDetail; anything unexpected becomes
// INTERNAL without leaking its text (it is logged instead). Both transports
// serve the wrapped implementation, so gRPC and Connect clients see the same
// codes and details, and every call is measured once, here.
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { ErrorDetailSchema, ErrorReason } from "../../gen/stowd/v1/error_pb.js";
import { StowdError, type ErrorReason as Reason } from "../../common/errors.js";
import { log } from "../observability/log.js";
import { codeLabel, type Metrics } from "../observability/metrics.js";
import { MAX_ERROR_FIELD_BYTES, MAX_ERROR_MESSAGE_BYTES, boundedText } from "./error-text.js";

export function toConnectError(err: unknown, signal?: AbortSignal): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof StowdError) {
    const f = err.facts;
    const message = boundedText(err.message, MAX_ERROR_MESSAGE_BYTES);
    const detail = {
      reason: ErrorReason[err.reason satisfies Reason],
      reference: boundedText(f.reference ?? "", MAX_ERROR_FIELD_BYTES),
      size: BigInt(f.size ?? -1),
      limit: BigInt(f.limit ?? 0),
      backend: f.backend ?? "",
      field: boundedText(f.field ?? "", MAX_ERROR_FIELD_BYTES),
      message,
    };
    if (err.reason === "INTERNAL") log("error", "internal error", { err: err.message, cause: String(f.cause) });
    return new ConnectError(message, err.code, undefined, [{ desc: ErrorDetailSchema, value: detail }], err);
  }
  if (signal?.aborted) {
    // Transports abort with a ConnectError saying whether it was a cancel or a deadline.
    if (signal.reason instanceof ConnectError) return signal.reason;
    return toConnectError(new StowdError("CANCELLED", "the call was cancelled or ran out of time", { cause: err }));
  }
  log("error", "unexpected error", { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return new ConnectError("internal error; the daemon log has the details", Code.Internal, undefined, [
    { desc: ErrorDetailSchema, value: { reason: ErrorReason.INTERNAL, message: "internal error", size: -1n } },
  ], err);
}

type AnyImpl = Record<string, (...args: never[]) => unknown>;

/**
 * Wraps every method of `impl`: what it throws passes through
 * toConnectError, and each call is counted and timed by method and code.
 */
export function withCallBoundary<S extends DescService>(service: S, impl: ServiceImpl<S>, metrics: Metrics): ServiceImpl<S> {
  const wrapped: Record<string, unknown> = {};
  const methods = impl as unknown as AnyImpl;
  for (const method of service.methods) {
    const fn = methods[method.localName];
    if (fn === undefined) throw new Error(`${service.typeName} implementation lacks ${method.name}`);
    const name = `${service.typeName}/${method.name}`;
    const begin = () => {
      const inFlight = metrics.rpcInFlight.labels({ method: name });
      inFlight.inc();
      const stop = metrics.rpcDuration.startTimer({ method: name });
      return (err?: ConnectError) => {
        const code = codeLabel(err);
        stop({ code });
        metrics.rpcRequests.inc({ method: name, code });
        inFlight.dec();
      };
    };
    if (method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming") {
      wrapped[method.localName] = async function* (req: never, ctx: { signal: AbortSignal }) {
        const end = begin();
        let error: ConnectError | undefined;
        try {
          yield* fn(req, ctx as never) as AsyncIterable<unknown>;
        } catch (err) {
          error = toConnectError(err, ctx.signal);
          throw error;
        } finally {
          // A stream the client abandoned ends here without an error of its own.
          end(error ?? (ctx.signal.aborted ? toConnectError(undefined, ctx.signal) : undefined));
        }
      };
    } else {
      wrapped[method.localName] = async (req: never, ctx: { signal: AbortSignal }) => {
        const end = begin();
        let error: ConnectError | undefined;
        try {
          return await fn(req, ctx as never);
        } catch (err) {
          error = toConnectError(err, ctx.signal);
          throw error;
        } finally {
          end(error);
        }
      };
    }
  }
  return wrapped as ServiceImpl<S>;
}
