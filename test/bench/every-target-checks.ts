// What the bench target tests check of every path they set up: the stream
// scenario, run once with small objects, records one run per target and op
// (it verifies every byte it read); and a wrong byte is caught on each path.
import { expect } from "vitest";
import type { Child } from "../../bench/harness/children.js";
import type { StreamSection } from "../../bench/report/results.js";
import { runStreamScenario } from "../../bench/scenarios/streams.js";
import type { StreamTarget } from "../../bench/targets/stream-target.js";

/** One run of the scenario through `targets`; the section, for a test's own checks of its cells. */
export async function runOnceThroughEveryTarget(
  targets: StreamTarget[],
  baseline: string,
  payload: Buffer,
  children: Child[],
): Promise<StreamSection> {
  const section = await runStreamScenario({
    id: "t",
    title: "t",
    targets,
    baselines: [baseline],
    sizes: [payload.length],
    runs: 1,
    payload,
    children,
    notes: [],
    progress: () => undefined,
  });
  expect(section.cells.map((c) => `${c.op} ${c.target} ${c.runs.length}`).sort()).toEqual(
    targets.flatMap((t) => [`read ${t.label} 1`, `write ${t.label} 1`]).sort(),
  );
  return section;
}

/** Each target, having written `payload` (after a reset, as the scenario writes), fails reading it back as a copy with its last byte flipped. */
export async function expectWrongByteCaught(targets: StreamTarget[], payload: Buffer): Promise<void> {
  const other = Buffer.from(payload);
  other[payload.length - 1] = (other[payload.length - 1] ?? 0) ^ 1;
  for (const t of targets) {
    await t.reset("verify");
    await t.write("verify", payload);
    await expect(t.read("verify", payload.length, other), t.label).rejects.toThrow(/wrong bytes at offset/);
  }
}
