// The primary's half of the workers' invalidation bus
// (server/decorators/worker-invalidation-bus.ts): forwards a worker's
// invalidation to every other worker and acknowledges it to the writer once
// all of them dropped the key. A worker that exits counts as done (its cache
// went with it); one that does not answer within ACK_TIMEOUT_MS is killed for
// the same reason: a worker stalled that long serves nothing anyway, and it
// must not serve the stale entry once it wakes up.
import type { Worker } from "node:cluster";
import { isWorkerBusMessage } from "../decorators/worker-invalidation-bus.js";
import { log } from "../observability/log.js";

const ACK_TIMEOUT_MS = 10_000;

interface Relay {
  writer: Worker;
  writerId: number;
  waiting: Set<Worker>;
  timer: NodeJS.Timeout;
}

export interface InvalidationRelay {
  /** Handles a worker's message if it belongs to the bus; false otherwise. */
  handle(from: Worker, message: unknown): boolean;
  /** A worker exited: nothing waits for it any more. */
  gone(worker: Worker): void;
}

export function createInvalidationRelay(workers: () => Iterable<Worker>): InvalidationRelay {
  const relays = new Map<number, Relay>();
  let nextId = 0;

  const settle = (id: number, worker: Worker) => {
    const relay = relays.get(id);
    if (relay === undefined || !relay.waiting.delete(worker) || relay.waiting.size > 0) return;
    clearTimeout(relay.timer);
    relays.delete(id);
    if (relay.writer.isConnected()) relay.writer.send({ stowd: "invalidated", id: relay.writerId });
  };

  return {
    handle(from, message) {
      if (!isWorkerBusMessage(message)) return false;
      if (message.stowd === "invalidated") {
        settle(message.id, from);
        return true;
      }
      const waiting = new Set([...workers()].filter((w) => w !== from && w.isConnected()));
      if (waiting.size === 0) {
        from.send({ stowd: "invalidated", id: message.id });
        return true;
      }
      const id = nextId++;
      const timer = setTimeout(() => {
        for (const stalled of waiting) {
          log("error", "a worker did not acknowledge a cache invalidation in time; killing it so it cannot serve a stale entry", {
            worker: stalled.id,
            timeoutMs: ACK_TIMEOUT_MS,
          });
          stalled.process.kill("SIGKILL");
        }
      }, ACK_TIMEOUT_MS);
      relays.set(id, { writer: from, writerId: message.id, waiting, timer });
      for (const worker of waiting) worker.send({ stowd: "invalidate", id, invalidation: message.invalidation });
      return true;
    },
    gone(worker) {
      for (const id of [...relays.keys()]) settle(id, worker);
    },
  };
}
