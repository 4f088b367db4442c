// Readiness (/readyz on the HTTP port): whether this daemon should get
// traffic, i.e. it is not stopping and every configured backend answers.
// /healthz says only that the process is alive, grpc.health.v1 only whether
// the daemon is serving; neither touches a backend.
//
// Each backend is probed with one cheap call: a list of page size 1 on its
// configured container (with a "/" delimiter where the backend has one, so
// local disk reads one directory level), bounded by server.readinessTimeout.
// That proves the network path, the credentials and the container in one
// request. A cloud backend (s3, gs, abfs) with no storage.container has
// nothing it could list without guessing a bucket, so it is reported
// "unchecked" and does not fail readiness.
//
// Probing builds backends: the router builds each backend on first use, and
// a probe is a use. Readiness must say whether the backend is reachable, which
// it cannot know without dialling it; the client built here is the one calls
// use next, and a failed build is not kept, so the next probe tries again.
// Concurrent /readyz requests share one round of probes.
import { parsePrefixReference } from "../references/reference.js";
import type { SchemeRouter } from "../decorators/scheme-router.js";
import { maskReference } from "../calls/call-log.js";
import { formatMs } from "../calls/call-limits.js";

export type ProbeStatus = "up" | "down" | "unchecked";

export interface BackendReadiness {
  kind: string;
  status: ProbeStatus;
  /** The reference listed. */
  probe: string;
  /** How long the probe took, milliseconds. */
  ms: number;
  /** Why it is down or unchecked. */
  error?: string;
}

export interface Readiness {
  ready: boolean;
  stopping: boolean;
  backends: Record<string, BackendReadiness>;
}

export interface ReadinessOptions {
  router: SchemeRouter;
  /** Per-probe bound (server.readinessTimeout). */
  timeoutMs: number;
  /** True once a graceful stop began: readiness fails first. */
  isStopping: () => boolean;
}

const CLOUD_KINDS = new Set(["s3", "gcs", "azure"]);

export function createReadiness(options: ReadinessOptions): { check(): Promise<Readiness> } {
  const { router, timeoutMs, isStopping } = options;
  let round: Promise<Record<string, BackendReadiness>> | undefined;

  async function probe(scheme: string): Promise<BackendReadiness> {
    const backend = router.backendFor(scheme);
    const reference = backend.baseContainerReference === "" ? `${scheme}://` : backend.baseContainerReference;
    const started = performance.now();
    const result = (status: ProbeStatus, error?: string): BackendReadiness => ({
      kind: backend.kind,
      status,
      probe: maskReference(reference),
      ms: Math.round(performance.now() - started),
      ...(error === undefined ? {} : { error: maskReference(error) }),
    });
    if (backend.baseContainerReference === "" && CLOUD_KINDS.has(backend.kind)) {
      return result("unchecked", "no storage.container is configured for this scheme, so there is no container to probe");
    }
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`no answer within ${formatMs(timeoutMs)} (server.readinessTimeout)`));
      }, timeoutMs);
    });
    try {
      // Raced as well as aborted: a backend stuck below its signal handling still cannot hold /readyz.
      await Promise.race([
        router.list(
          parsePrefixReference(reference),
          { pageSize: 1, pageToken: "", delimiter: backend.capabilities.delimiterListing ? "/" : "" },
          controller.signal,
        ),
        timeout,
      ]);
      return result("up");
    } catch (err) {
      return result("down", err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  async function probeAll(): Promise<Record<string, BackendReadiness>> {
    const schemes = router.routes.map((r) => r.scheme);
    const results = await Promise.all(schemes.map(probe));
    return Object.fromEntries(schemes.map((s, i) => [s, results[i] as BackendReadiness]));
  }

  return {
    async check() {
      if (isStopping()) return { ready: false, stopping: true, backends: {} };
      round ??= probeAll().finally(() => (round = undefined));
      const backends = await round;
      const stopping = isStopping();
      return { ready: !stopping && Object.values(backends).every((b) => b.status !== "down"), stopping, backends };
    },
  };
}
