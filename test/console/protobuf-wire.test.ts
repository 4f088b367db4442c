// The console's schema-less decode of stored messages of unknown types, and
// the registry that decides which types are shown as JSON instead.
import { create, toBinary } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema, StructSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { decodeWireFormat, WireFormatError } from "../../console/src/protobuf-wire.js";
import { knownMessageType, typeNameOf } from "../../console/src/protobuf-types.js";
import { ObjectInfoSchema } from "../../gen/stowd/v1/object_pb.js";

describe("decodeWireFormat", () => {
  it("shows varints, fixed-width numbers, text, nested messages and binary by field number", () => {
    const message = create(CodeGeneratorRequestSchema, {
      fileToGenerate: ["a.proto", "b.proto"],
      parameter: "target=ts",
      compilerVersion: { major: 5, minor: 29 },
    });
    expect(decodeWireFormat(toBinary(CodeGeneratorRequestSchema, message))).toEqual({
      "1": ["a.proto", "b.proto"],
      "2": ["target=ts"],
      "3": [{ "1": ["5"], "2": ["29"] }],
    });
  });

  it("writes fixed64 and fixed32 as hex, bytes that are neither text nor a message as hex, and varints unsigned", () => {
    const bytes = new Uint8Array([
      0x09,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      0x80, // field 1, fixed64
      0x15,
      0xff,
      0,
      0,
      0, // field 2, fixed32
      0x1a,
      2,
      0xff,
      0xfe, // field 3, bytes
      0x20,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0x01, // field 4, int64 -1
    ]);
    expect(decodeWireFormat(bytes)).toEqual({
      "1": ["0x8000000000000001"],
      "2": ["0x000000ff"],
      "3": ["bytes 0xfffe"],
      "4": ["18446744073709551615"],
    });
  });

  it("prefers text for printable bytes that would also parse as a message", () => {
    // "hi" is also field 13 = 105.
    expect(decodeWireFormat(new Uint8Array([0x0a, 2, 0x68, 0x69]))).toEqual({ "1": ["hi"] });
  });

  it("refuses what is not the wire format, naming where it broke", () => {
    expect(() => decodeWireFormat(new Uint8Array([0x0a, 5, 1]))).toThrow(WireFormatError);
    expect(() => decodeWireFormat(new Uint8Array([0x0a, 5, 1]))).toThrow(/runs past the end/);
    expect(() => decodeWireFormat(new Uint8Array([0x08]))).toThrow(/truncated varint/);
    expect(() => decodeWireFormat(new Uint8Array([0x0b]))).toThrow(/wire type 3/);
    expect(() => decodeWireFormat(new Uint8Array([0x00]))).toThrow(/invalid field number 0/);
  });
});

describe("knownMessageType", () => {
  it("knows the well-known types and stowd's own, by type URL", () => {
    expect(knownMessageType("type.googleapis.com/google.protobuf.Struct")).toBe(StructSchema);
    expect(knownMessageType("type.googleapis.com/google.protobuf.Timestamp")).toBe(TimestampSchema);
    expect(knownMessageType("type.googleapis.com/stowd.v1.ObjectInfo")).toBe(ObjectInfoSchema);
    expect(knownMessageType("type.googleapis.com/google.protobuf.compiler.CodeGeneratorRequest")).toBeUndefined();
    expect(typeNameOf("example.com/x/y.v1.Thing")).toBe("y.v1.Thing");
  });
});
