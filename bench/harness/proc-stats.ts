// What /proc says about a process (RSS, peak RSS, CPU) and the machine (busy
// and stolen CPU), so every number comes with the cost and the noise behind it.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

export function procStatus(pid: number): { rssKiB: number; hwmKiB: number } {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

export function rssMiB(pid: number): number {
  return procStatus(pid).rssKiB / 1024;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (10 ms resolution). */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3 (state)
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Page faults a process has taken so far, from /proc/<pid>/stat: minor (no disk read) and major. */
export function procFaults(pid: number): { minor: number; major: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3 (state)
  return { minor: Number(fields[7]), major: Number(fields[9]) };
}

/** CPU seconds this (client) process has used so far. */
export function selfCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Machine-wide busy and steal CPU seconds so far, from /proc/stat. Busy is
 * user + nice + system only: interrupt time is charged to no process, and the
 * benchmark's own loopback traffic makes plenty of it, which must not read as
 * someone else's load.
 */
export function machineCpuSeconds(): { busy: number; steal: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: (user + nice + system) / CLK_TCK, steal: steal / CLK_TCK };
}

/** Resets VmHWM to the current RSS (Linux clear_refs "5"); false where not allowed. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

export interface RssSample {
  /** RSS right before the operation. */
  beforeMiB: number;
  /** Peak RSS during it: VmHWM after a clear_refs reset, else the highest VmRSS sampled every 10 ms. */
  peakMiB: number;
  method: "VmHWM" | "VmRSS sampled";
}

/** Runs `fn` and reports the peak RSS of process `pid` while it ran. */
export async function measureRss<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; rss: RssSample }> {
  const before = procStatus(pid).rssKiB;
  const exact = resetPeak(pid);
  let sampled = before;
  const timer = setInterval(() => {
    try {
      sampled = Math.max(sampled, procStatus(pid).rssKiB);
    } catch {
      // The process is gone; the operation will fail and say so.
    }
  }, 10);
  try {
    const value = await fn();
    const after = procStatus(pid);
    sampled = Math.max(sampled, after.rssKiB);
    const peak = exact ? Math.max(after.hwmKiB, sampled) : sampled;
    return { value, rss: { beforeMiB: before / 1024, peakMiB: peak / 1024, method: exact ? "VmHWM" : "VmRSS sampled" } };
  } finally {
    clearInterval(timer);
  }
}

/** utime + stime (+ cutime + cstime: its reaped children) of a process, and its parent pid. */
function procTree(pid: number): { cpu: number; ppid: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // f[0] is field 3 (state)
  return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK };
}

/** CPU seconds used by this process and every descendant, live or reaped. */
function ourCpuSeconds(): number {
  const all = new Map<number, { cpu: number; ppid: number }>();
  for (const name of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      all.set(Number(name), procTree(Number(name)));
    } catch {
      // Exited while we looked.
    }
  }
  let total = 0;
  for (const [pid, info] of all) {
    // Walk up: is process.pid an ancestor (or the process itself)?
    for (let at: number | undefined = pid; at !== undefined && at > 1; at = all.get(at)?.ppid) {
      if (at === process.pid) {
        total += info.cpu;
        break;
      }
    }
  }
  return total;
}

/**
 * Measures how much CPU other processes used on the machine while the
 * benchmark ran: machine busy time minus that of this process tree.
 */
export function createNoiseMeter() {
  const machineAtStart = machineCpuSeconds();
  const oursAtStart = ourCpuSeconds();
  const started = performance.now();
  /** Highest tree total seen: a child that exits unreaped for a moment must not make it drop. */
  let ours = 0;
  return {
    /** Call before stopping children too: a process reaped by a grandchild that already exited would be lost. */
    sample() {
      ours = Math.max(ours, ourCpuSeconds() - oursAtStart);
    },
    /** Cores busy outside the benchmark's processes, and cores stolen by the hypervisor, averaged over the run. */
    read(): { foreignCores: number; stealCores: number; seconds: number } {
      this.sample();
      const seconds = (performance.now() - started) / 1000;
      const now = machineCpuSeconds();
      return {
        foreignCores: Math.max(0, now.busy - machineAtStart.busy - ours) / seconds,
        stealCores: (now.steal - machineAtStart.steal) / seconds,
        seconds,
      };
    },
  };
}
