// What the decorated store tree offers the services above it: the root every
// call goes through, the router behind it and the download limit in force.
// The assembly builds it (assembly/store-tree.ts); defined here, below both,
// so the services can take a tree without importing the code that builds it.
import type { RawStore } from "../stores/raw-store.js";
import type { SchemeRouter } from "./scheme-router.js";

export interface StoreTree {
  /** What every RPC goes through. */
  root: RawStore;
  /** The scheme router, for GetServerInfo. */
  router: SchemeRouter;
  /** `limits.maxDownloadMBs` in bytes; 0 = unlimited. */
  maxDownloadBytes: number;
  close(): Promise<void>;
}
