// If-Match and If-None-Match (RFC 9110 §13.1) against the stores' etags,
// which are unquoted and strong: on the wire they are "quoted". If-None-Match
// compares weakly (W/"x" matches "x"), If-Match strongly (a weak tag never
// matches); "*" matches any existing object.

export type EtagCondition = { any: true } | { any: false; etags: string[] };

/** The header's entity tags (undefined when absent or empty); a weak tag keeps its `W/` so a strong comparison can refuse it. */
export function etagCondition(header: string | undefined): EtagCondition | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  if (header.trim() === "*") return { any: true };
  const etags = [...header.matchAll(/(W\/)?"([^"]*)"/g)].map(([, weak, tag]) => `${weak ?? ""}${tag ?? ""}`);
  return { any: false, etags };
}

/** If-None-Match's weak comparison. */
export function noneMatchHits(condition: EtagCondition, etag: string): boolean {
  return condition.any || condition.etags.some((t) => t.replace(/^W\//, "") === etag);
}

/** If-Match's strong comparison. */
export function matchHits(condition: EtagCondition, etag: string): boolean {
  return condition.any || condition.etags.includes(etag);
}

/** The ETag header of a store's etag. */
export function quotedEtag(etag: string): string {
  return `"${etag}"`;
}
