// The stream scenario: every target writes and reads the same object sizes,
// runs interleaved across targets so drift on the machine hits all of them
// alike; one untimed read per target and size then checks every byte.
import { MiB } from "../common.js";
import { whileAlive, type Child } from "../harness/children.js";
import { timedStream } from "../harness/measure.js";
import type { StreamCell, StreamRun, StreamSection } from "../report/results.js";
import type { StreamTarget } from "../targets/stream-target.js";

export interface StreamScenarioOptions {
  id: string;
  title: string;
  targets: StreamTarget[];
  baselines: string[];
  goal?: number;
  sizes: number[];
  runs: number;
  /** At least as large as the largest size; each size uses its prefix. */
  payload: Buffer;
  /** Processes the run depends on: one exiting fails the run at once. */
  children: Child[];
  notes: string[];
  progress: (line: string) => void;
}

export async function runStreamScenario(o: StreamScenarioOptions): Promise<StreamSection> {
  const cells: StreamCell[] = [];
  const guard = <T>(p: Promise<T>) => whileAlive(o.children, p);
  // Warm-up (untimed): a small verified round trip through every path.
  const warm = o.payload.subarray(0, Math.min(o.payload.length, MiB));
  for (const t of o.targets) {
    await guard(t.reset("warm-up"));
    await guard(t.write("warm-up", warm));
    await guard(t.read("warm-up", warm.length, warm));
    await guard(t.reset("warm-up"));
  }
  for (const size of o.sizes) {
    // One object per target: two targets on one daemon must not delete each other's.
    const nameOf = (i: number) => `object-${size / MiB}MiB-${i}`;
    const payload = o.payload.subarray(0, size);
    const cell = (t: StreamTarget, op: "read" | "write") => {
      const c: StreamCell = { target: t.label, op, sizeBytes: size, runs: [] };
      cells.push(c);
      return c;
    };
    const writes = o.targets.map((t) => cell(t, "write"));
    const reads = o.targets.map((t) => cell(t, "read"));
    for (let run = 0; run < o.runs; run++) {
      for (const [i, t] of o.targets.entries()) {
        await guard(t.reset(nameOf(i)));
        const r = await guard(timedStream(t.serverPid, () => t.write(nameOf(i), payload), size));
        writes[i]?.runs.push(r);
        o.progress(`${o.id}: write ${size / MiB} MiB ${t.label} run ${run + 1}/${o.runs}: ${r.mbps.toFixed(0)} MB/s${faultsText(r)}`);
      }
    }
    for (let run = 0; run < o.runs; run++) {
      for (const [i, t] of o.targets.entries()) {
        const r = await guard(timedStream(t.serverPid, () => t.read(nameOf(i), size), size));
        reads[i]?.runs.push(r);
        o.progress(`${o.id}: read ${size / MiB} MiB ${t.label} run ${run + 1}/${o.runs}: ${r.mbps.toFixed(0)} MB/s${faultsText(r)}`);
      }
    }
    // Every byte, once per path (and so what the writes stored), then give the memory back.
    for (const [i, t] of o.targets.entries()) {
      await guard(t.read(nameOf(i), size, payload));
      await guard(t.reset(nameOf(i)));
    }
  }
  return {
    id: o.id,
    title: o.title,
    targets: o.targets.map((t) => t.label),
    baselines: o.baselines,
    ...(o.goal === undefined ? {} : { goal: o.goal }),
    cells,
    notes: o.notes,
  };
}

/** The server's CPU and page faults of a run, for the progress line: what to look at when a run is slow. */
function faultsText(r: StreamRun): string {
  if (r.serverCpuPct === null || r.serverFaults === undefined || r.serverFaults === null) return "";
  return `, server ${r.serverCpuPct.toFixed(0)}% CPU, ${r.serverFaults.minorPer4KiB.toFixed(3)} minor faults per 4 KiB, ${r.serverFaults.major} major`;
}
