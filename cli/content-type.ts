// The content type an upload gets when --content-type is not given: the
// file extension's (the mime package's table), else application/octet-stream.
import mime from "mime";

export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

export function contentTypeOf(path: string): string {
  return mime.getType(path) ?? DEFAULT_CONTENT_TYPE;
}
