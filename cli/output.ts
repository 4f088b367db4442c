// Where results go: stdout, as text for people or, with --json, one JSON
// document per line (ls prints one line per entry, every other command one
// line), so scripts can read them with jq or line by line.
import type { Writable } from "node:stream";

export interface Output {
  readonly json: boolean;
  readonly stdout: Writable;
  /** Prints one result: `json` as one line with --json, else `human` (nothing when it is undefined). */
  result(json: unknown, human?: string): void;
}

export interface OutputOptions {
  json: boolean;
  stdout: Writable;
}

export function createOutput({ json, stdout }: OutputOptions): Output {
  return {
    json,
    stdout,
    result(value, human) {
      if (json) stdout.write(`${JSON.stringify(value)}\n`);
      else if (human !== undefined) stdout.write(human.endsWith("\n") ? human : `${human}\n`);
    },
  };
}
