// The message types this console can show as JSON: protobuf's well-known
// types and stowd's own (stowd.v1). A stored message records its type URL
// in the object's metadata (`stowd_type_url`); a type not listed here is
// shown with the schema-less decoder (protobuf-wire.ts).
import { createRegistry, type DescMessage } from "@bufbuild/protobuf";
import {
  file_google_protobuf_any,
  file_google_protobuf_api,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_source_context,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_type,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";
import { file_stowd_v1_error, file_stowd_v1_object, file_stowd_v1_protobuf_store, file_stowd_v1_raw_store } from "../../client/proto.js";

/** The object metadata key where WriteProtobuf records the stored message's type URL. */
export const TYPE_URL_METADATA_KEY = "stowd_type_url";

/** The content type WriteProtobuf stores messages with. */
export const PROTOBUF_CONTENT_TYPE = "application/x-protobuf";

/** Every type the bundle knows; toJson also needs it to print google.protobuf.Any fields. */
export const KNOWN_TYPES = createRegistry(
  file_google_protobuf_any,
  file_google_protobuf_api,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_source_context,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_type,
  file_google_protobuf_wrappers,
  file_stowd_v1_error,
  file_stowd_v1_object,
  file_stowd_v1_protobuf_store,
  file_stowd_v1_raw_store,
);

/** The full type name of a type URL (`type.googleapis.com/google.protobuf.Struct` → `google.protobuf.Struct`). */
export function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
}

/** The schema for a stored message's type URL, or undefined when this console does not know the type. */
export function knownMessageType(typeUrl: string): DescMessage | undefined {
  return KNOWN_TYPES.getMessage(typeNameOf(typeUrl));
}
