// Authorization as a stage of the call pipeline (server/security/authorize.ts):
// a call the request gate already authenticated is not authenticated again,
// and the gate's refusal is thrown and logged as "call denied" like any other.
import { createContextValues, createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { StowdError } from "../../common/errors.js";
import { redirectLog } from "../../server/observability/log.js";
import { credentialsOf, type Credentials, type Principal } from "../../server/security/authenticate.js";
import { createAuthorization, GATE_AUTHENTICATION } from "../../server/security/authorize.js";
import { ALL_GRANTS } from "../../server/security/grants.js";

const lines: Array<Record<string, unknown>> = [];
let restore: () => void;
beforeAll(() => {
  restore = redirectLog({ write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
});
afterAll(() => restore?.());

function contextOf(gate: Principal | Error | undefined, authorization?: string): HandlerContext {
  const values = createContextValues();
  if (gate !== undefined) values.set(GATE_AUTHENTICATION, gate);
  return createHandlerContext({
    service: RawStoreService,
    method: RawStoreService.method.head,
    protocolName: "grpc",
    requestMethod: "POST",
    url: "/stowd.v1.RawStoreService/Head",
    requestHeader: authorization === undefined ? {} : { authorization },
    contextValues: values,
  });
}

it("takes the caller the request gate authenticated instead of authenticating again", () => {
  let reads = 0;
  const head = createAuthorization({
    credentials: (): Credentials => {
      reads++;
      return credentialsOf(undefined, "env-token");
    },
  }).forRpc("stowd.v1.RawStoreService/Head");
  const gateCaller: Principal = { name: "from-the-gate", via: "token", grants: ALL_GRANTS };
  expect(head.authenticate(contextOf(gateCaller))).toBe(gateCaller);
  expect(reads).toBe(0);
  // Without the gate's verdict (a call that did not pass a listener's gate), it authenticates itself.
  expect(head.authenticate(contextOf(undefined, "Bearer env-token"))).toMatchObject({ name: "STOWD_AUTH_TOKEN" });
  expect(reads).toBe(1);
});

it("throws and logs the gate's refusal as a denied call", () => {
  const head = createAuthorization({ credentials: () => credentialsOf(undefined, "env-token") }).forRpc("stowd.v1.RawStoreService/Head");
  const refusal = new StowdError("UNAUTHENTICATED", "this daemon requires authentication");
  lines.length = 0;
  expect(() => head.authenticate(contextOf(refusal))).toThrow(refusal);
  expect(lines).toEqual([
    expect.objectContaining({ msg: "call denied", rpc: "stowd.v1.RawStoreService/Head", code: "UNAUTHENTICATED", caller: null }),
  ]);
});

it("refuses at startup an RPC with no permission rules", () => {
  expect(() =>
    createAuthorization({ credentials: () => credentialsOf(undefined, undefined) }).forRpc("stowd.v1.RawStoreService/Nope"),
  ).toThrow(/no entry in server\/security\/rpc-permissions.ts/);
});
