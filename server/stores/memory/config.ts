// The memory store's options, and the object size limit they resolve to.
import type { DaemonUrlSigner } from "../raw-store.js";
import { totalmem } from "node:os";

export interface MemoryStoreOptions {
  /**
   * Largest object the store takes, in bytes. Default: the memory the
   * daemon can have (the machine's, or its cgroup limit when lower), since
   * the store keeps every object in the daemon's memory.
   */
  maxObjectBytes?: number;
  /** Signs the URLs the daemon serves for this store (server/signed-urls/); absent = no signed URLs. */
  urlSigner?: DaemonUrlSigner;
}

/** The store's object size limit, and what it comes from, for the error that names it. */
export interface SizeLimit {
  bytes: number;
  what: string;
}

/** maxObjectBytes when set, else the memory this process can have. */
export function sizeLimitOf(options: MemoryStoreOptions): SizeLimit {
  return options.maxObjectBytes === undefined
    ? availableMemory()
    : { bytes: options.maxObjectBytes, what: "the memory store's maxObjectBytes" };
}

/** The memory this process can have: the machine's, or its cgroup limit when that is lower. */
function availableMemory(): SizeLimit {
  const machine = totalmem();
  const constrained = process.constrainedMemory?.() ?? 0;
  return constrained > 0 && constrained < machine
    ? { bytes: constrained, what: "the daemon's cgroup memory limit" }
    : { bytes: machine, what: "the machine's memory" };
}
