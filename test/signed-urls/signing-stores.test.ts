// The stores the daemon signs URLs for, given a URL signer, against the
// shared conformance suite: signing on (capability true, URLs that name the
// daemon's /signed/ route) must change nothing else they do. redis:// with
// a signer runs in daemon-signed-urls.test.ts, through a real daemon.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalStore } from "../../server/stores/local/index.js";
import { createMemoryStore } from "../../server/stores/memory/index.js";
import { createUrlSigner } from "../../server/signed-urls/url-signer.js";
import { describeRawStoreConformance } from "../conformance/raw-store-suite.js";
import { SECRET_A } from "./signed-url-daemon.js";

const urlSigner = createUrlSigner({ keys: () => [{ id: "suite", secret: SECRET_A }], baseUrl: () => "http://127.0.0.1:1" });

describeRawStoreConformance("memory, signing URLs", {
  create: async () => ({ store: createMemoryStore({ urlSigner }), scheme: "mem", container: "bucket" }),
  awkwardKeys: "accept-all",
});

describeRawStoreConformance("local, signing URLs", {
  create: async () => {
    const root = await mkdtemp(join(tmpdir(), "stowd-signing-local-"));
    return {
      store: await createLocalStore({ root, urlSigner }),
      scheme: "file",
      container: "bucket",
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  },
  awkwardKeys: "accept-or-reject",
});
