// Timing one stream operation (MB/s, CPU of both ends, peak server RSS) and
// a closed-loop unary load (calls/s, latency percentiles, CPU per call).
import { measureRss, procCpuSeconds, procFaults, selfCpuSeconds } from "./proc-stats.js";
import { percentile } from "./stats.js";
import type { StreamRun, UnaryRun } from "../report/results.js";

export async function timedStream(serverPid: number | undefined, op: () => Promise<unknown>, bytes: number): Promise<StreamRun> {
  const timed = async () => {
    const serverCpu = serverPid === undefined ? 0 : procCpuSeconds(serverPid);
    const serverFaults = serverPid === undefined ? undefined : procFaults(serverPid);
    const clientCpu = selfCpuSeconds();
    const start = performance.now();
    await op();
    const seconds = (performance.now() - start) / 1000;
    const faultsNow = serverPid === undefined ? undefined : procFaults(serverPid);
    return {
      seconds,
      server: serverPid === undefined ? null : procCpuSeconds(serverPid) - serverCpu,
      faults:
        serverFaults === undefined || faultsNow === undefined
          ? null
          : { minorPer4KiB: (faultsNow.minor - serverFaults.minor) / (bytes / 4096), major: faultsNow.major - serverFaults.major },
      client: selfCpuSeconds() - clientCpu,
    };
  };
  const { value, rss } = serverPid === undefined ? { value: await timed(), rss: null } : await measureRss(serverPid, timed);
  const { seconds } = value;
  return {
    mbps: bytes / 1e6 / seconds,
    seconds,
    serverCpuPct: value.server === null ? null : (100 * value.server) / seconds,
    clientCpuPct: (100 * value.client) / seconds,
    serverFaults: value.faults,
    rss,
  };
}

/** `concurrency` callers, each calling `call` back to back until `seconds` are up. */
export async function unaryLoad(
  serverPid: number,
  call: (caller: number, n: number) => Promise<void>,
  concurrency: number,
  seconds: number,
): Promise<UnaryRun> {
  const latencies: number[] = [];
  const serverCpu = procCpuSeconds(serverPid);
  const clientCpu = selfCpuSeconds();
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, caller) => {
      for (let n = 0; performance.now() < end; n++) {
        const t = performance.now();
        await call(caller, n);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const n = latencies.length;
  return {
    callsPerSecond: n / elapsed,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    calls: n,
    serverCpuUs: (1e6 * (procCpuSeconds(serverPid) - serverCpu)) / n,
    clientCpuUs: (1e6 * (selfCpuSeconds() - clientCpu)) / n,
  };
}
