// How the memory store holds an object's bytes. Memory follows the bytes
// that arrived, never a size the client declared (a 3 GiB header followed by
// a few bytes holds a few bytes). Segments are 1 MiB; the first one grows
// geometrically from 64 KiB, so a small object takes little more than its
// size, and nothing is ever copied into one big buffer: no object is limited
// by Node's largest Buffer (4 GiB on Node 20), no commit needs twice the
// object's size, and an append copies what it appends plus at most one small
// old segment, not the whole object. Segments keep free room in front for
// the message header a read sends them with (kit/message-headroom.ts), so
// the gRPC port sends them without copying them first.
//
// Keeping a large received chunk as a segment instead of copying it was
// tried and measured: it saved the copy but took fresh memory for every
// message (2.4x the page faults per MB written), which cost more.
import { abortable, throwIfAborted } from "../kit/abort.js";
import { allocateWithHeadroom } from "../kit/message-headroom.js";
import type { SizeLimit } from "./config.js";
import { tooLarge } from "./errors.js";

/** Segment size, and the most one read chunk carries. */
const SEGMENT_BYTES = 1 << 20;
/** The first segment starts this small and doubles up to SEGMENT_BYTES. */
const FIRST_SEGMENT_BYTES = 64 * 1024;

/**
 * An object's bytes: immutable segments in order, each at most
 * SEGMENT_BYTES (a write fills all but the last). Versions and copies share them.
 */
export type Segments = readonly Uint8Array[];

/**
 * Copies chunks into segments as they arrive: memory grows with the bytes
 * received (at most one partly filled segment ahead), never with a size
 * announced up front. A size hint only caps segment capacities, so an object
 * of a declared size needs no trimming copy at the end.
 */
export class SegmentWriter {
  private readonly done: Uint8Array[] = [];
  private current: Uint8Array = new Uint8Array(0);
  private filled = 0;
  private size = 0;

  /** `base`: bytes the object already has (an append), counted against the limit. */
  constructor(
    private readonly reference: string,
    private readonly limit: SizeLimit,
    private readonly sizeHint?: number,
    private readonly base = 0,
  ) {}

  write(chunk: Uint8Array): void {
    const total = this.base + this.size + chunk.length;
    if (total > this.limit.bytes) throw tooLarge(this.reference, total, this.limit, false);
    for (let at = 0; at < chunk.length;) {
      if (this.filled === this.current.length) this.grow(chunk.length - at);
      const n = Math.min(chunk.length - at, this.current.length - this.filled);
      this.current.set(chunk.subarray(at, at + n), this.filled);
      this.filled += n;
      this.size += n;
      at += n;
    }
  }

  /** The segments written; the writer is not used afterwards. */
  finish(): Uint8Array[] {
    if (this.filled === 0) return this.done;
    // Keep a mostly full last segment as it is; copy a mostly empty one to its size.
    const filled = this.current.subarray(0, this.filled);
    return [...this.done, this.filled * 2 >= this.current.length ? filled : copyOf(filled)];
  }

  /** Room for at least one more byte, with `wanted` bytes of the chunk at hand still to place. */
  private grow(wanted: number): void {
    // What the current segment would need to hold the rest of a body of the hinted size.
    const ahead = this.sizeHint !== undefined && this.sizeHint > this.size ? this.filled + this.sizeHint - this.size : Infinity;
    if (this.done.length === 0 && this.current.length < SEGMENT_BYTES) {
      // The first segment doubles, copying what it holds (under 1 MiB in all).
      const capacity = Math.min(
        SEGMENT_BYTES,
        Math.max(FIRST_SEGMENT_BYTES, 2 * this.current.length, this.filled + wanted),
        Math.max(ahead, this.filled + 1),
      );
      const next = allocate(capacity);
      next.set(this.current.subarray(0, this.filled));
      this.current = next;
      return;
    }
    this.done.push(this.current);
    this.current = allocate(Math.min(SEGMENT_BYTES, Math.max(ahead - this.filled, 1)));
    this.filled = 0;
  }
}

/** A segment of its own (not a slice of Node's shared pool, which a stored object would keep alive). */
function allocate(bytes: number): Uint8Array {
  return allocateWithHeadroom(bytes);
}

function copyOf(bytes: Uint8Array): Uint8Array {
  const copy = allocate(bytes.length);
  copy.set(bytes);
  return copy;
}

/** Reads `body` into `writer` until it ends or the signal aborts. */
export async function collect(
  body: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
  writer: SegmentWriter,
  reference: string,
): Promise<Uint8Array[]> {
  for await (const chunk of abortable(body, signal, reference)) writer.write(chunk);
  throwIfAborted(signal, reference);
  return writer.finish();
}

export function sizeOf(data: Segments): number {
  let size = 0;
  for (const segment of data) size += segment.length;
  return size;
}

/** The bytes `offset` to `offset + length` of `data`, one segment slice per chunk, without copying. */
export async function* slices(
  data: Segments,
  offset: number,
  length: number,
  signal: AbortSignal,
  reference: string,
): AsyncGenerator<Uint8Array> {
  let start = 0;
  const end = offset + length;
  for (const segment of data) {
    const segmentEnd = start + segment.length;
    if (segmentEnd > offset && start < end) {
      throwIfAborted(signal, reference);
      yield segment.subarray(Math.max(offset, start) - start, Math.min(end, segmentEnd) - start);
    }
    if (segmentEnd >= end) return;
    start = segmentEnd;
  }
}

/**
 * An object's segments (`size` bytes) followed by the appended ones. Only a
 * small old last segment and the first appended one are copied, into one,
 * when they fit in a segment together: a run of appends costs what it
 * appends, not the object's size each time, and never leaves two neighbours
 * that would fit in one segment (so segments stay half full on average).
 */
export function joined(old: Segments, size: number, added: Segments, limit: SizeLimit, reference: string): Segments {
  const total = size + sizeOf(added);
  if (total > limit.bytes) throw tooLarge(reference, total, limit, false);
  const tail = old.at(-1);
  const first = added[0];
  if (tail === undefined || first === undefined || tail.length + first.length > SEGMENT_BYTES) return [...old, ...added];
  const merged = allocate(tail.length + first.length);
  merged.set(tail);
  merged.set(first, tail.length);
  return [...old.slice(0, -1), merged, ...added.slice(1)];
}
