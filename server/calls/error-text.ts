// Bounds the text an error carries to the client. Errors name the reference
// they are about, and a reference can be as long as a request allows (MiBs),
// but status messages and details travel in HTTP/2 trailers: past ~16 KiB
// the HTTP port failed the stream with FRAME_SIZE_ERROR and the gRPC port
// never sent a status at all (the call hung until the client's deadline);
// gRPC C-core clients refuse trailers over 16 KiB. These caps keep an error's
// trailers under 8 KiB whatever the request held.

/** Most UTF-8 bytes of an error message sent to the client. */
export const MAX_ERROR_MESSAGE_BYTES = 1024;
/** Most UTF-8 bytes of a reference (or other echoed field) in an error detail. */
export const MAX_ERROR_FIELD_BYTES = 512;

/** `text` cut to at most `maxBytes` UTF-8 bytes on a character boundary, saying how long it was. */
export function boundedText(text: string, maxBytes: number): string {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes <= maxBytes) return text;
  const note = ` ... (${bytes} bytes, truncated)`;
  let kept = "";
  let used = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch, "utf8");
    if (used + size > maxBytes - note.length) break;
    kept += ch;
    used += size;
  }
  return kept + note;
}
