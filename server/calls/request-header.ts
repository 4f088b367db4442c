// One request header of a call, read the cheapest way the context offers:
// the gRPC port's context reads it from the metadata without building a
// Headers object (transports/grpc-call-context.ts); the HTTP port's has one.
import type { HandlerContext } from "@connectrpc/connect";

/** A context that reads one request header without building its Headers object. */
interface HeaderReader {
  header(name: string): string | null;
}

export function requestHeaderOf(ctx: HandlerContext, name: string): string | null {
  const reader = ctx as Partial<HeaderReader>;
  return typeof reader.header === "function" ? reader.header(name) : ctx.requestHeader.get(name);
}
