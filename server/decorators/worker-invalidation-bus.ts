// Carries cache invalidations between the workers of one daemon
// (server.workers > 1) through the primary process, over node:cluster's IPC
// channel (server/cluster/invalidation-relay.ts forwards them). Unlike Redis
// pub/sub it loses nothing and it acknowledges: publish() resolves once every
// other worker has dropped the key, and the cached store awaits that before a
// write returns, so a read that starts after a write returned sees the new
// bytes whichever worker serves it.
import type { Invalidation, InvalidationBus } from "./cached-store.js";

/** One message kind in each direction, the same on both hops (worker -> primary -> workers). */
export type WorkerBusMessage =
  /** "Drop this": from the writing worker to the primary, and from the primary to every other worker. */
  | { stowd: "invalidate"; id: number; invalidation: Invalidation }
  /** "Dropped": a worker's acknowledgement to the primary, and the primary's to the writing worker once all acknowledged. */
  | { stowd: "invalidated"; id: number };

export function isWorkerBusMessage(message: unknown): message is WorkerBusMessage {
  const kind = (message as { stowd?: unknown } | null)?.stowd;
  return kind === "invalidate" || kind === "invalidated";
}

/** The IPC channel of a cluster worker: `process` in a worker. */
export interface WorkerChannel {
  readonly connected: boolean;
  send(message: WorkerBusMessage): unknown;
  on(event: "message", listener: (message: unknown) => void): unknown;
  on(event: "disconnect", listener: () => void): unknown;
}

export function createWorkerInvalidationBus(channel: WorkerChannel): InvalidationBus {
  const handlers: ((message: Invalidation) => void)[] = [];
  const acknowledgements = new Map<number, () => void>();
  let nextId = 0;
  channel.on("message", (message) => {
    if (!isWorkerBusMessage(message)) return;
    if (message.stowd === "invalidated") {
      acknowledgements.get(message.id)?.();
      acknowledgements.delete(message.id);
      return;
    }
    for (const handler of handlers) handler(message.invalidation);
    channel.send({ stowd: "invalidated", id: message.id });
  });
  // Without the primary this worker exits (node:cluster ends an orphaned worker): waiting writes need not hang until then.
  channel.on("disconnect", () => {
    for (const done of acknowledgements.values()) done();
    acknowledgements.clear();
  });

  return {
    publish(invalidation) {
      if (!channel.connected) return;
      const id = nextId++;
      return new Promise<void>((resolve) => {
        acknowledgements.set(id, resolve);
        channel.send({ stowd: "invalidate", id, invalidation });
      });
    },
    subscribe(handler) {
      handlers.push(handler);
    },
  };
}
