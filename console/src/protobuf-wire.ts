// A schema-less reading of the protobuf wire format, for stored messages of
// a type this console does not know: field numbers and what their bytes look
// like. Without the schema a length-delimited field may be a string, bytes
// or a nested message; it is shown as text when its bytes are printable
// UTF-8, else as a nested message when they parse as one completely, else as
// hex.
// Varints are shown unsigned (a negative int32 shows as a large number).

export type WireValue = string | WireFields;

/** Field number → its values in the order they appear (repeated fields have several). */
export interface WireFields {
  [fieldNumber: string]: WireValue[];
}

const MAX_DEPTH = 16;

export class WireFormatError extends Error {
  override readonly name = "WireFormatError";
}

/** Decodes `bytes` as one message; throws WireFormatError when they are not the wire format. */
export function decodeWireFormat(bytes: Uint8Array, depth = 0): WireFields {
  const fields: WireFields = {};
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= bytes.length) throw new WireFormatError(`truncated varint at byte ${pos}`);
      const b = bytes[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new WireFormatError(`varint longer than 10 bytes at byte ${pos}`);
  };
  const take = (n: number): Uint8Array => {
    if (n < 0 || pos + n > bytes.length) throw new WireFormatError(`field runs past the end (byte ${pos}, ${n} bytes)`);
    const slice = bytes.subarray(pos, pos + n);
    pos += n;
    return slice;
  };
  while (pos < bytes.length) {
    const tag = varint();
    const fieldNumber = tag >> 3n;
    const wireType = Number(tag & 7n);
    if (fieldNumber === 0n || fieldNumber > 536_870_911n) throw new WireFormatError(`invalid field number ${fieldNumber}`);
    let value: WireValue;
    switch (wireType) {
      case 0:
        value = varint().toString();
        break;
      case 1:
        value = `0x${hex(take(8).slice().reverse())}`;
        break;
      case 2:
        value = lengthDelimited(take(Number(varint())), depth);
        break;
      case 5:
        value = `0x${hex(take(4).slice().reverse())}`;
        break;
      default:
        throw new WireFormatError(`wire type ${wireType} (groups or invalid) at field ${fieldNumber}`);
    }
    (fields[fieldNumber.toString()] ??= []).push(value);
  }
  return fields;
}

function lengthDelimited(bytes: Uint8Array, depth: number): WireValue {
  // Printable text first: a short string such as "hi" also parses as a message (field 13 = 105).
  const text = printableText(bytes);
  if (text !== undefined) return text;
  if (depth < MAX_DEPTH) {
    try {
      return decodeWireFormat(bytes, depth + 1);
    } catch (e) {
      if (!(e instanceof WireFormatError)) throw e;
    }
  }
  return `bytes 0x${hex(bytes)}`;
}

function printableText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  // Control characters other than tab and newlines mean binary data.
  for (const char of text) {
    const code = char.charCodeAt(0);
    if ((code < 0x20 && char !== "\t" && char !== "\n" && char !== "\r") || code === 0x7f) return undefined;
  }
  return text;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
