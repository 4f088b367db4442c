// The in-flight byte budget (server.maxInFlightMBs): one count, shared by
// every stream on both listeners, of the data bytes the daemon holds between
// a store and a transport. A read takes its next chunk's worth before it
// pulls that chunk from the store and gives it back once the transport has
// sent it; a write takes a chunk's bytes when the transport hands it over and
// gives them back when the store asks for the next one. When the budget is
// used up, streams wait in arrival order instead of buffering more: a waiting
// reader reads nothing from its backend, a waiting writer stops reading its
// request stream, so HTTP/2 flow control holds the client back. A wait ends
// when bytes come back, or when the call's signal fires (client cancel,
// deadline, the idle-stream timeout, shutdown).

export interface StreamBudget {
  /** The budget in bytes; 0 = unlimited. */
  readonly limitBytes: number;
  /** Bytes currently taken. */
  readonly usedBytes: number;
  /** Streams waiting for bytes. */
  readonly waiting: number;
  /**
   * Takes `bytes` (at most the whole budget, so one large message cannot wait
   * forever) and resolves with the amount taken, to be passed to release().
   * Rejects with the signal's reason when it fires first.
   */
  acquire(bytes: number, signal: AbortSignal): Promise<number>;
  release(bytes: number): void;
}

interface Waiter {
  bytes: number;
  grant: () => void;
}

export function createStreamBudget(limitBytes: number): StreamBudget {
  let used = 0;
  const queue: Waiter[] = [];

  function drain(): void {
    // Strict arrival order: a large request at the head is not overtaken by
    // small ones, or it could starve.
    while (queue.length > 0) {
      const head = queue[0] as Waiter;
      if (used + head.bytes > limitBytes) return;
      queue.shift();
      used += head.bytes;
      head.grant();
    }
  }

  return {
    limitBytes,
    get usedBytes() {
      return used;
    },
    get waiting() {
      return queue.length;
    },
    acquire(bytes, signal) {
      if (limitBytes <= 0 || bytes <= 0) return Promise.resolve(0);
      const wanted = Math.min(bytes, limitBytes);
      if (signal.aborted) return Promise.reject(signal.reason);
      if (queue.length === 0 && used + wanted <= limitBytes) {
        used += wanted;
        return Promise.resolve(wanted);
      }
      return new Promise<number>((resolve, reject) => {
        const onAbort = () => {
          const at = queue.indexOf(waiter);
          if (at >= 0) queue.splice(at, 1);
          reject(signal.reason);
          // The head may have been the only thing holding others back.
          drain();
        };
        const waiter: Waiter = {
          bytes: wanted,
          grant: () => {
            signal.removeEventListener("abort", onAbort);
            resolve(wanted);
          },
        };
        signal.addEventListener("abort", onAbort, { once: true });
        queue.push(waiter);
      });
    },
    release(bytes) {
      if (bytes <= 0) return;
      used = Math.max(0, used - bytes);
      drain();
    },
  };
}
