// Which preview an object gets, from its content type and metadata alone.
// Images are shown only for raster types a browser decodes without running
// anything; SVG can carry script, so it is shown as text like any markup.
import type { ObjectInfo } from "../../client/browser.js";
import { PROTOBUF_CONTENT_TYPE, TYPE_URL_METADATA_KEY } from "./protobuf-types.js";

export type PreviewKind = { kind: "text" } | { kind: "image"; type: string } | { kind: "protobuf"; typeUrl: string } | { kind: "none" };

export const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

const TEXT_TYPES = [/^text\//, /^application\/(json|xml|yaml|x-yaml|toml|javascript|x-ndjson)$/, /\+(json|xml)$/];

export function previewKindOf(info: ObjectInfo): PreviewKind {
  const type = (info.contentType.split(";")[0] ?? "").trim().toLowerCase();
  const typeUrl = info.metadata[TYPE_URL_METADATA_KEY];
  if (typeUrl !== undefined && typeUrl !== "") return { kind: "protobuf", typeUrl };
  if (type === PROTOBUF_CONTENT_TYPE) return { kind: "protobuf", typeUrl: "" };
  if (IMAGE_TYPES.includes(type)) return { kind: "image", type };
  if (TEXT_TYPES.some((pattern) => pattern.test(type))) return { kind: "text" };
  return { kind: "none" };
}
