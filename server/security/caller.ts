// Who the current call's caller is, for handlers that answer differently per
// caller (GetServerInfo's CallerInfo, a daemon-signed URL naming its signer).
// Authorization (authorize.ts) sets it once it has authenticated the call;
// it stays undefined when auth is off.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CallerInfoSchema } from "../../gen/stowd/v1/raw_store_pb.js";
import type { Principal } from "./authenticate.js";

export const CALLER = createContextKey<Principal | undefined>(undefined, { description: "the authenticated caller of the call" });

/** GetServerInfoResponse.caller for the call in `ctx`. */
export function callerInfoOf(ctx: HandlerContext, authEnabled: boolean): MessageInitShape<typeof CallerInfoSchema> {
  const principal = ctx.values.get(CALLER);
  if (!authEnabled || principal === undefined) return { authEnabled };
  return {
    authEnabled,
    name: principal.name,
    grants: principal.grants.map((g) => ({ operations: [...g.operations], prefixes: g.prefixes.map((p) => p.text) })),
  };
}
