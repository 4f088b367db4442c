// What each RPC needs: the operations and the references they apply to.
// Every method of every served service must be listed here; building the call
// pipeline for a service with an unlisted method fails at start, so a new RPC cannot be
// served unchecked by accident.
import { SignedUrlMethod } from "../../gen/stowd/v1/raw_store_pb.js";
import type { Operation } from "./grants.js";

export interface Need {
  operation: Operation;
  /** The reference as the request gives it. */
  reference: string;
  /** The request field it came from, e.g. "header.reference". */
  field: string;
  /** A listing prefix (parsed with parsePrefixReference) rather than an object. */
  prefix?: true;
  /** Why this operation is needed when the RPC's name does not say it. */
  because?: string;
}

/** From the request (for WriteRaw / Append: the stream's header message) to what it needs; [] = any authenticated caller. */
export type NeedsOf = (request: never) => Need[];

interface Ref1 {
  reference: string;
}

const object = (operation: Operation) => (r: Ref1) => [{ operation, reference: r.reference, field: "reference" }];
const prefix = (operation: Operation) => (r: Ref1) => [{ operation, reference: r.reference, field: "reference", prefix: true as const }];
const header = (operation: Operation) => (h: Ref1) => [{ operation, reference: h.reference, field: "header.reference" }];
/** Pure reference arithmetic or daemon facts: no object is touched, so authentication is enough. */
const none = () => [];

export const RPC_NEEDS: Record<string, NeedsOf> = {
  "stowd.v1.RawStoreService/ReadRaw": object("read"),
  "stowd.v1.RawStoreService/Head": object("read"),
  "stowd.v1.RawStoreService/WriteRaw": header("write"),
  "stowd.v1.RawStoreService/Append": header("write"),
  "stowd.v1.RawStoreService/List": prefix("list"),
  "stowd.v1.RawStoreService/Delete": object("delete"),
  "stowd.v1.RawStoreService/DeletePrefix": prefix("delete"),
  "stowd.v1.RawStoreService/CopyRaw": (r: { sourceReference: string; destinationReference: string }) => [
    { operation: "read", reference: r.sourceReference, field: "source_reference" },
    { operation: "write", reference: r.destinationReference, field: "destination_reference" },
  ],
  // A signed URL lets its holder read (GET) or write (PUT) past the daemon, so
  // it needs sign and also the access it hands out: sign never widens a grant.
  "stowd.v1.RawStoreService/CreateSignedUrl": (r: { reference: string; method: SignedUrlMethod }) => [
    { operation: "sign", reference: r.reference, field: "reference" },
    ...(r.method === SignedUrlMethod.GET
      ? [{ operation: "read" as const, reference: r.reference, field: "reference", because: "a GET URL reads the object" }]
      : []),
    ...(r.method === SignedUrlMethod.PUT
      ? [{ operation: "write" as const, reference: r.reference, field: "reference", because: "a PUT URL writes the object" }]
      : []),
  ],
  "stowd.v1.RawStoreService/ConstructReference": none,
  "stowd.v1.RawStoreService/SplitReference": none,
  "stowd.v1.RawStoreService/GetServerInfo": none,
  "stowd.v1.ProtobufStoreService/WriteProtobuf": object("write"),
  "stowd.v1.ProtobufStoreService/ReadProtobuf": object("read"),
};
