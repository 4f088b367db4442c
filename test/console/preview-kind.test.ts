// Which preview an object gets: raster images only (never SVG, which can
// carry script: it is shown as text), text types, stored protobuf messages.
import { describe, expect, it } from "vitest";
import type { ObjectInfo } from "../../client/index.js";
import { previewKindOf } from "../../console/src/preview-kind.js";

function info(contentType: string, metadata: Record<string, string> = {}): ObjectInfo {
  return {
    reference: "mem://b/k",
    size: 1,
    etag: "e",
    contentMd5: undefined,
    crc32c: undefined,
    contentType,
    metadata,
    updateTime: undefined,
    generation: "",
  };
}

describe("previewKindOf", () => {
  it("shows png, jpeg, gif and webp as images, and SVG as text", () => {
    for (const type of ["image/png", "image/jpeg", "image/gif", "image/webp", "IMAGE/PNG"])
      expect(previewKindOf(info(type))).toEqual({ kind: "image", type: type.toLowerCase() });
    expect(previewKindOf(info("image/svg+xml"))).toEqual({ kind: "text" });
    expect(previewKindOf(info("image/tiff"))).toEqual({ kind: "none" });
  });

  it("shows text, JSON, YAML and XML types as text, parameters ignored", () => {
    for (const type of ["text/plain; charset=utf-8", "text/html", "application/json", "application/x-yaml", "application/ld+json"])
      expect(previewKindOf(info(type))).toEqual({ kind: "text" });
    expect(previewKindOf(info("application/octet-stream"))).toEqual({ kind: "none" });
    expect(previewKindOf(info(""))).toEqual({ kind: "none" });
  });

  it("decodes stored messages by the type URL WriteProtobuf records, and protobuf without one schema-less", () => {
    const typeUrl = "type.googleapis.com/google.protobuf.Struct";
    expect(previewKindOf(info("application/x-protobuf", { stowd_type_url: typeUrl }))).toEqual({ kind: "protobuf", typeUrl });
    expect(previewKindOf(info("application/x-protobuf"))).toEqual({ kind: "protobuf", typeUrl: "" });
  });
});
