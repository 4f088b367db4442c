// A progress bar (cli-progress), drawn on stderr, so stdout stays the
// command's output. Transfers only create one when stderr is a terminal;
// otherwise they are quiet. A bulk transfer draws one bar for all its files:
// files done / total in place of the label, bytes summed over every file.
import { SingleBar } from "cli-progress";
import { formatBytes } from "./format.js";

export interface Progress {
  /** Counts bytes that went through. */
  add(bytes: number): void;
  /** Counts one more file finished (bulk bars). */
  fileDone(): void;
  /** Draws the final state and releases the terminal line. */
  stop(): void;
}

export interface ProgressOptions {
  /** Draw at all; false gives a no-op. */
  enabled: boolean;
  /** Bytes expected. */
  total: number;
  /** What moves, e.g. `big.bin -> mem://b/big.bin`; for a bulk bar, what precedes the file count. */
  label: string;
  /** Files expected: makes this a bulk bar. */
  files?: number;
  stream?: NodeJS.WritableStream;
}

export const NO_PROGRESS: Progress = { add() {}, fileDone() {}, stop() {} };

export function createProgress(options: ProgressOptions): Progress {
  if (!options.enabled) return NO_PROGRESS;
  const started = Date.now();
  let done = 0;
  let filesDone = 0;
  const payload = () => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    return {
      label: options.files === undefined ? options.label : `${options.label}${filesDone}/${options.files} files`,
      done: formatBytes(done),
      size: formatBytes(options.total),
      speed: `${formatBytes(Math.round(done / seconds))}/s`,
    };
  };
  const bar = new SingleBar({
    stream: options.stream ?? process.stderr,
    format: "{label} [{bar}] {percentage}% | {done} / {size} | {speed} | ETA {eta_formatted}",
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
  });
  // cli-progress shows a total of 0 (an empty object) as 100%.
  bar.start(options.total, 0, payload());
  return {
    add(bytes) {
      done += bytes;
      bar.update(done, payload());
    },
    fileDone() {
      filesDone++;
      bar.update(done, payload());
    },
    stop() {
      bar.update(done, payload());
      bar.stop();
    },
  };
}
