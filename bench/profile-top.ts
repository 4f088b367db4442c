// `npm run bench:profile -- DIR [--top N] [--skip-seconds S]`: the top
// frames of every CPU profile in DIR (written by `npm run bench -- --cpu-prof
// DIR`), by self time, with the share each takes of the process's busy time
// (idle and the first S seconds, the start-up, left out; default 5). Frames are grouped by function and file, so the same function
// reached from many places counts once.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per frame in µs, and the busy total, leaving out the first `skipUs` of the profile (start-up). */
export function selfTimes(profile: CpuProfile, skipUs: number): { frames: Map<string, number>; busyUs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const frames = new Map<string, number>();
  let busyUs = 0;
  let atUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    atUs += us;
    if (atUs < skipUs || node === undefined || node.callFrame.functionName === "(idle)") return;
    busyUs += us;
    const key = frameName(node.callFrame);
    frames.set(key, (frames.get(key) ?? 0) + us);
  });
  return { frames, busyUs };
}

function frameName({ functionName, url, lineNumber }: ProfileNode["callFrame"]): string {
  const file = url === "" ? "" : url.replace(/^file:\/\//, "").replace(/^.*\/node_modules\//, "");
  const where =
    file === "" ? "" : ` ${relative(process.cwd(), file).startsWith("..") ? file : relative(process.cwd(), file)}:${lineNumber + 1}`;
  return `${functionName === "" ? "(anonymous)" : functionName}${where}`;
}

/** Every .cpuprofile in dir and its subdirectories (one per child process), sorted. */
function profilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()
    .map((f) => join(dir, f));
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { top: { type: "string", default: "15" }, "skip-seconds": { type: "string", default: "5" } },
    allowPositionals: true,
  });
  const dir = positionals[0];
  if (dir === undefined) throw new Error("usage: npm run bench:profile -- DIR [--top N] [--skip-seconds S]");
  const top = Number(values.top);
  const skipUs = Number(values["skip-seconds"]) * 1e6;
  for (const file of profilesUnder(dir)) {
    const { frames, busyUs } = selfTimes(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, skipUs);
    if (busyUs < 0.05e6) continue; // a thread that did nothing after start-up (tsx's loader)
    console.log(`\n${relative(dir, file)}: ${(busyUs / 1e6).toFixed(2)} s busy`);
    const rows = [...frames.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
    for (const [name, us] of rows) console.log(`  ${((100 * us) / busyUs).toFixed(1).padStart(5)}%  ${name}`);
  }
}

main();
