// What every scenario gets from bench/main.ts.
import type { BenchOptions } from "../options.js";

export interface ScenarioContext {
  options: BenchOptions;
  /** A temp dir for this run; main removes it. */
  tmp: string;
  /** Deterministic bytes, as large as the largest object. */
  payload: Buffer;
  /** One line of progress on stderr. */
  progress: (line: string) => void;
  /** Records the command line of a child for the results. */
  started(name: string, command: string): void;
}
