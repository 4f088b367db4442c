// HTTP entity tags as S3 and Azure send them ("abc", W/"abc") and as stowd
// stores and compares them: bare, without quotes or the weak marker.

/** `"abc"` or `W/"abc"` -> `abc`; a missing etag is "". */
export function unquoteEtag(etag: string | undefined): string {
  return (etag ?? "").replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

/** `abc` -> `"abc"`, for If-Match / If-None-Match headers. */
export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}
