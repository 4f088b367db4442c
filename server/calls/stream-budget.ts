// The in-flight byte budget (server.maxInFlightMBs): one count, shared by
// every stream on both listeners, of the data bytes the daemon holds between
// a store and a transport. A stream takes bytes for a message before the
// transport gets it and gives them back once the transport has sent it (a
// read) or once the store asks for the next one (a write).
//
// Bytes a stream has taken come back only when its client reads them, so a
// client that stops reading ("parks" its stream) keeps them until the
// idle-stream timeout. Granting whole 1 MiB messages in arrival order let four
// parked readers hold a 4 MiB budget while every other call, even a 5-byte
// read, waited for that timeout. So the budget is granted per stream:
//
//   - Every stream may always hold up to `reserveBytes` (64 KiB, about what a
//     client's default HTTP/2 window takes in) whatever the others hold: a
//     small call and the first message of any stream never wait behind parked
//     streams. Reserves are counted apart from the shared pool, so however
//     many streams hold theirs, the pool still frees up for a waiting take.
//   - Beyond its reserve a stream takes from the pool of `limitBytes`, and a
//     read holds at most its share: limitBytes / open streams (its reserve if
//     that is more). A read never waits: it takes what it may have now
//     (takeUpTo) and the call guard sends its message in pieces of that size.
//     Under contention reads move in smaller messages instead of taking
//     turns, so many slow readers all move at their own pace, and a parked
//     reader holds at most its share as it was when it took it.
//   - A take that cannot be cut (a write chunk or a request body that has
//     already arrived) waits for the pool when it is larger than what is left
//     of its reserve. Waiters are granted in arrival order; each stream has at
//     most one take waiting, so that is round-robin by stream, and a large
//     take is not starved by small ones. While a take waits, reads get only
//     their reserve, so the pool drains towards it.
//
// A wait ends when bytes come back, or when the call's signal fires (client
// cancel, deadline, the idle-stream timeout, shutdown). The bytes held stay
// below limitBytes + reserveBytes per open stream (+ the first reserveBytes
// of each call's single-message request): the ceiling grows with the number
// of streams by 64 KiB each, which maxConcurrentCalls bounds. (A read also
// keeps the store chunk it cuts its pieces from, up to 1 MiB, outside this
// count: see call-guard.ts.)

/** What each stream may always hold (capped at the budget): about one default HTTP/2 window. */
export const STREAM_RESERVE_BYTES = 64 * 1024;

export interface StreamBudget {
  /** The shared pool in bytes; 0 = unlimited. */
  readonly limitBytes: number;
  /** What every stream may hold without waiting, on top of the pool. */
  readonly reserveBytes: number;
  /** Bytes currently taken, reserves included. */
  readonly usedBytes: number;
  /** Takes waiting for bytes. */
  readonly waiting: number;
  /** Opens one stream's account; close() it when the stream ends. */
  openStream(): StreamShare;
  /**
   * For a call's single-message request, whose bytes are given back with
   * release(): takes `bytes` (at most the whole budget, so one large message
   * cannot wait forever) and resolves with the amount taken. The first
   * reserveBytes a call (known by `call`, by default its `signal`) takes are
   * granted at once. Rejects with the signal's reason when it fires first.
   */
  acquire(bytes: number, signal: AbortSignal, call?: object): Promise<number>;
  /** Gives back bytes from acquire(). */
  release(bytes: number): void;
}

/**
 * One stream's account with the budget. When the budget is unlimited, or
 * after close(), nothing is counted: takes grant what they ask at once.
 */
export interface StreamShare {
  /** Bytes this stream holds. */
  readonly heldBytes: number;
  /**
   * Takes what the stream may hold now, at most `bytes`, without waiting:
   * what is left of its reserve, plus what is free of the pool up to its
   * share when no other take is waiting. A stream that holds nothing always
   * gets at least min(bytes, reserveBytes).
   */
  takeUpTo(bytes: number): number;
  /**
   * Takes exactly `bytes` (at most the whole budget), waiting for the pool
   * when the reserve does not cover it. Rejects with the signal's reason when
   * it fires first.
   */
  take(bytes: number, signal: AbortSignal): Promise<number>;
  release(bytes: number): void;
  /** The stream ended: gives back what it still holds. */
  close(): void;
}

interface Waiter {
  /** Whether the pool can grant it now. */
  fits(): boolean;
  grant(): void;
}

export interface StreamBudgetOptions {
  /** Default STREAM_RESERVE_BYTES; capped at the budget. */
  reserveBytes?: number;
}

export function createStreamBudget(limitBytes: number, options: StreamBudgetOptions = {}): StreamBudget {
  const unlimited = limitBytes <= 0;
  const reserve = unlimited ? 0 : Math.min(options.reserveBytes ?? STREAM_RESERVE_BYTES, limitBytes);
  /** Bytes taken from the pool: streams' bytes beyond their reserves, and requests' bytes. */
  let pool = 0;
  /** Bytes held within streams' reserves. */
  let reserved = 0;
  let openStreams = 0;
  const queue: Waiter[] = [];
  /** Reserve bytes each call's single-message request has taken (never given back to it: one request per call). */
  const requestReserve = new WeakMap<object, number>();

  const poolFree = () => Math.max(0, limitBytes - pool);
  /** The part of `held` a stream takes from the pool. */
  const poolPart = (held: number) => Math.max(0, held - reserve);

  function drain(): void {
    while (queue.length > 0) {
      const head = queue[0] as Waiter;
      if (!head.fits()) return;
      queue.shift();
      head.grant();
    }
  }

  /** Waits in line until `fits`, then runs `take`; leaves the line when `signal` fires. */
  function wait(signal: AbortSignal, fits: () => boolean, take: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = queue.indexOf(waiter);
        if (at >= 0) queue.splice(at, 1);
        reject(signal.reason);
        // The head may have been the only thing holding others back.
        drain();
      };
      const waiter: Waiter = {
        fits,
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          take();
          resolve();
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      queue.push(waiter);
    });
  }

  function openStream(): StreamShare {
    let held = 0;
    let closed = false;
    openStreams++;

    // After close() nothing is counted any more (a take still waiting then
    // is granted at once and charges nothing).
    const charge = (bytes: number) => {
      if (closed) return;
      const fromPool = poolPart(held + bytes) - poolPart(held);
      pool += fromPool;
      reserved += bytes - fromPool;
      held += bytes;
    };
    const discharge = (bytes: number) => {
      const n = Math.min(bytes, held);
      const toPool = poolPart(held) - poolPart(held - n);
      pool -= toPool;
      reserved -= n - toPool;
      held -= n;
    };

    return {
      get heldBytes() {
        return held;
      },
      takeUpTo(bytes) {
        if (unlimited || closed) return bytes;
        if (bytes <= 0) return 0;
        // The share is taken at this moment; a stream opened later lowers
        // the next grants, not what earlier streams hold.
        const share = Math.max(reserve, Math.floor(limitBytes / openStreams));
        const fromReserve = Math.max(0, reserve - held);
        // While a take waits for the pool, leave the pool to it.
        const fromPool = queue.length > 0 ? 0 : poolFree();
        const n = Math.min(bytes, Math.max(0, share - held), fromReserve + fromPool);
        if (n > 0) charge(n);
        return n;
      },
      take(bytes, signal) {
        if (unlimited || bytes <= 0) return Promise.resolve(unlimited ? bytes : 0);
        if (signal.aborted) return Promise.reject(signal.reason);
        const wanted = Math.min(bytes, limitBytes);
        const fits = () => closed || poolPart(held + wanted) - poolPart(held) <= poolFree();
        // Within the reserve it never waits; beyond, it does not overtake waiters.
        if (poolPart(held + wanted) === poolPart(held) || (queue.length === 0 && fits())) {
          charge(wanted);
          return Promise.resolve(wanted);
        }
        return wait(signal, fits, () => charge(wanted)).then(() => wanted);
      },
      release(bytes) {
        if (unlimited || bytes <= 0) return;
        discharge(bytes);
        drain();
      },
      close() {
        if (closed) return;
        discharge(held);
        closed = true;
        openStreams--;
        drain();
      },
    };
  }

  return {
    limitBytes,
    reserveBytes: reserve,
    get usedBytes() {
      return pool + reserved;
    },
    get waiting() {
      return queue.length;
    },
    openStream,
    acquire(bytes, signal, call = signal) {
      if (unlimited || bytes <= 0) return Promise.resolve(0);
      if (signal.aborted) return Promise.reject(signal.reason);
      const wanted = Math.min(bytes, limitBytes);
      // A small request (every request but a large WriteProtobuf) passes at
      // once: it is counted in the pool, which may go over by these bytes
      // until the calls end.
      const small = requestReserve.get(call) ?? 0;
      if (small + wanted <= reserve) {
        requestReserve.set(call, small + wanted);
        pool += wanted;
        return Promise.resolve(wanted);
      }
      const fits = () => wanted <= poolFree();
      if (queue.length === 0 && fits()) {
        pool += wanted;
        return Promise.resolve(wanted);
      }
      return wait(signal, fits, () => (pool += wanted)).then(() => wanted);
    },
    release(bytes) {
      if (unlimited || bytes <= 0) return;
      pool = Math.max(0, pool - bytes);
      drain();
    },
  };
}
