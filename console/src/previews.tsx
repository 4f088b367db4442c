// Previews of an object's content: text (the first 64 KiB, always set as
// text, never parsed as HTML), raster images (through a blob: URL), and
// stored protobuf messages as JSON (types this console knows) or as a
// schema-less decode of the wire format (types it does not).
import { toJson } from "@bufbuild/protobuf";
import { useEffect, useState } from "preact/hooks";
import type { ObjectInfo } from "../../client/browser.js";
import { ErrorView } from "./error-view.js";
import { formatBytes } from "./format.js";
import { previewKindOf } from "./preview-kind.js";
import { decodeWireFormat } from "./protobuf-wire.js";
import { KNOWN_TYPES, knownMessageType, typeNameOf } from "./protobuf-types.js";
import { backendOf, type Session } from "./session.js";
import { useLoad } from "./use-load.js";

const TEXT_PREVIEW_BYTES = 64 * 1024;
const IMAGE_PREVIEW_BYTES = 20 * 1024 * 1024;
const MESSAGE_PREVIEW_BYTES = 4 * 1024 * 1024;

export function Preview({ session, info }: { session: Session; info: ObjectInfo }) {
  const kind = previewKindOf(info);
  return (
    <section class="preview" aria-labelledby="preview-title">
      <h2 id="preview-title">Preview</h2>
      {kind.kind === "text" && <TextPreview session={session} info={info} />}
      {kind.kind === "image" && <ImagePreview session={session} info={info} type={kind.type} />}
      {kind.kind === "protobuf" && <MessagePreview session={session} info={info} typeUrl={kind.typeUrl} />}
      {kind.kind === "none" && (
        <p class="empty">
          No preview for content type <code>{info.contentType || "(none)"}</code>: download the object to open it.
        </p>
      )}
    </section>
  );
}

/** The first `limit` bytes (the whole object when smaller), with a range when the backend has them. */
async function readHead(session: Session, info: ObjectInfo, limit: number): Promise<Uint8Array> {
  if (info.size <= limit) return session.client.readBytes(info.reference);
  if (backendOf(session, info.reference)?.capabilities.rangedReads === true) {
    return session.client.readBytes(info.reference, { range: { offset: 0, length: limit } });
  }
  const handle = await session.client.read(info.reference);
  const parts: Uint8Array[] = [];
  let have = 0;
  for await (const chunk of handle.chunks) {
    parts.push(chunk);
    have += chunk.length;
    if (have >= limit) break; // leaving the loop cancels the read
  }
  const bytes = new Uint8Array(Math.min(have, limit));
  let at = 0;
  for (const part of parts) {
    bytes.set(part.subarray(0, bytes.length - at), at);
    at += Math.min(part.length, bytes.length - at);
  }
  return bytes;
}

function TextPreview({ session, info }: { session: Session; info: ObjectInfo }) {
  const [text] = useLoad(async () => new TextDecoder().decode(await readHead(session, info, TEXT_PREVIEW_BYTES)), [session, info]);
  if (text.state === "loading") return <p aria-busy="true">Reading…</p>;
  if (text.state === "error") return <ErrorView error={text.error} title="Reading the object failed" />;
  return (
    <>
      {info.size > TEXT_PREVIEW_BYTES && (
        <p class="note">
          The first {formatBytes(TEXT_PREVIEW_BYTES)} of {formatBytes(info.size)}.
        </p>
      )}
      <pre class="text-preview" data-testid="text-preview" tabIndex={0}>
        {text.value}
      </pre>
    </>
  );
}

function ImagePreview({ session, info, type }: { session: Session; info: ObjectInfo; type: string }) {
  const [url, setUrl] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    if (info.size > IMAGE_PREVIEW_BYTES) return;
    let objectUrl: string | undefined;
    let current = true;
    session.client.readBytes(info.reference).then(
      (bytes) => {
        if (!current) return;
        // The blob's type is the allowed raster type, whatever else the bytes claim to be.
        objectUrl = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
        setUrl(objectUrl);
      },
      (e: unknown) => current && setError(e),
    );
    return () => {
      current = false;
      if (objectUrl !== undefined) URL.revokeObjectURL(objectUrl);
    };
  }, [session, info, type]);
  if (info.size > IMAGE_PREVIEW_BYTES)
    return <p class="empty">The image is larger than {formatBytes(IMAGE_PREVIEW_BYTES)}: download it to view it.</p>;
  if (error !== undefined) return <ErrorView error={error} title="Reading the image failed" />;
  if (url === undefined) return <p aria-busy="true">Reading…</p>;
  return <img class="image-preview" src={url} alt={`Preview of ${info.reference}`} data-testid="image-preview" />;
}

interface DecodedMessage {
  typeName: string;
  /** JSON of a known type, or the schema-less field dump of an unknown one. */
  json: string;
  schemaLess: boolean;
}

function MessagePreview({ session, info, typeUrl }: { session: Session; info: ObjectInfo; typeUrl: string }) {
  const [decoded] = useLoad(async (): Promise<DecodedMessage> => {
    const schema = typeUrl === "" ? undefined : knownMessageType(typeUrl);
    if (schema !== undefined) {
      const { message } = await session.client.readProtobuf(info.reference, schema);
      return {
        typeName: schema.typeName,
        json: JSON.stringify(toJson(schema, message, { registry: KNOWN_TYPES }), null, 2),
        schemaLess: false,
      };
    }
    if (info.size > MESSAGE_PREVIEW_BYTES)
      throw new Error(`the message is larger than ${formatBytes(MESSAGE_PREVIEW_BYTES)}: download it instead`);
    const fields = decodeWireFormat(await session.client.readBytes(info.reference));
    return {
      typeName: typeUrl === "" ? "(no type recorded)" : typeNameOf(typeUrl),
      json: JSON.stringify(fields, null, 2),
      schemaLess: true,
    };
  }, [session, info, typeUrl]);
  if (decoded.state === "loading") return <p aria-busy="true">Reading…</p>;
  if (decoded.state === "error") return <ErrorView error={decoded.error} title="Decoding the message failed" />;
  const { typeName, json, schemaLess } = decoded.value;
  return (
    <>
      <p class="note">
        Stored protobuf message of type <code>{typeName}</code>
        {schemaLess
          ? ", a type this console does not know: a schema-less decode of the wire format (field numbers → values; length-delimited fields shown as text, nested messages or hex by guess)."
          : ", shown as JSON."}
      </p>
      <pre class="text-preview" data-testid="message-preview" tabIndex={0}>
        {json}
      </pre>
    </>
  );
}
