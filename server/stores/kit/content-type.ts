// Every store answers the same content type for an object written without
// one, whatever its backend would default to.
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

export function contentTypeOrDefault(contentType: string): string {
  return contentType === "" ? DEFAULT_CONTENT_TYPE : contentType;
}
