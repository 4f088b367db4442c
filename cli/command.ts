// What a CLI command is: its flags (node:util parseArgs), its help text and
// what it runs. Every command gets the same context: the SDK client, the
// output mode and the signal Ctrl-C aborts.
import type { ParseArgsConfig } from "node:util";
import type { StowdClient } from "../client/index.js";
import type { Output } from "./output.js";

export type FlagSpecs = NonNullable<ParseArgsConfig["options"]>;
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext {
  /** Created on first use, so --help and usage errors need no daemon. */
  client: () => StowdClient;
  /** The daemon's base URL, for messages. */
  address: string;
  out: Output;
  /** Draw progress bars (stderr is a terminal, no --json, no --no-progress). */
  progress: boolean;
  /** Aborted by Ctrl-C; every call takes it. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  /** One line for `stowd --help`. */
  summary: string;
  /** The synopsis, e.g. `stowd ls [options] PREFIX`. */
  synopsis: string;
  /** What it does, a few lines. */
  description: string;
  /** The command's own flags (the global ones are added). */
  flags: FlagSpecs;
  /** One line per flag for --help, already aligned. */
  flagHelp: string[];
  examples: string[];
  /** How many positional arguments it takes. */
  positionals: { min: number; max: number };
  run(context: CommandContext, flags: FlagValues, positionals: string[]): Promise<void>;
}

export function stringFlag(flags: FlagValues, name: string): string | undefined {
  const value = flags[name];
  return typeof value === "string" ? value : undefined;
}

export function booleanFlag(flags: FlagValues, name: string): boolean {
  return flags[name] === true;
}

export function stringsFlag(flags: FlagValues, name: string): string[] {
  const value = flags[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
}
