// Converts a store's ObjectMeta into the contract's ObjectInfo, giving it the
// canonical reference that round-trips into Head and ReadRaw.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type ObjectInfo, ObjectInfoSchema } from "../../gen/stowd/v1/object_pb.js";
import { formatReference, type Ref } from "../references/reference.js";
import type { ObjectMeta } from "../stores/raw-store.js";

export function toObjectInfo(container: Pick<Ref, "scheme" | "authority">, meta: ObjectMeta): ObjectInfo {
  return create(ObjectInfoSchema, {
    reference: formatReference(container, meta.key),
    size: BigInt(meta.size),
    etag: meta.etag,
    contentMd5: meta.contentMd5 ?? new Uint8Array(0),
    contentType: meta.contentType,
    metadata: meta.metadata,
    updateTime: timestampFromDate(meta.updated),
    generation: meta.generation,
    ...(meta.crc32c === undefined ? {} : { crc32c: meta.crc32c }),
  });
}
