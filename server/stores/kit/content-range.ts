// The Content-Range header of a ranged GET (S3, Azure): which bytes came and
// how large the whole object is.

export interface ContentRange {
  /** First byte served. */
  start: number;
  /** Last byte served (inclusive). */
  end: number;
  /** The whole object's size. */
  size: number;
}

/** `bytes 0-99/1000` -> { start: 0, end: 99, size: 1000 }; anything else (absent, `*`) -> undefined. */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value ?? "");
  if (match === null) return undefined;
  return { start: Number(match[1]), end: Number(match[2]), size: Number(match[3]) };
}
