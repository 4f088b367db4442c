// The CLI's dispatcher: finds the command, parses its flags together with the
// global ones (node:util parseArgs, strict), runs it with one SDK client and
// maps the outcome to an exit code. `serve` hands its arguments to the daemon
// untouched.
import { parseArgs } from "node:util";
import { createStowdClient, type StowdClient } from "../client/index.js";
import type { Command, CommandContext, FlagValues } from "./command.js";
import { booleanFlag, stringFlag } from "./command.js";
import { COMMANDS } from "./commands/index.js";
import { serve, SERVE_SUMMARY } from "./commands/serve.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import { parseDurationFlag } from "./flag-values.js";
import { connectionOf } from "./connection.js";
import { GLOBAL_FLAGS } from "./global-options.js";
import { commandHelp, overviewHelp } from "./help.js";
import { createOutput } from "./output.js";
import { reportError } from "./report-error.js";
import { UsageError } from "./usage-error.js";
import { cliVersion } from "./version.js";

/** Global flags that take a value: the token after them is not the command name. */
const VALUE_FLAGS = new Set(
  Object.entries(GLOBAL_FLAGS)
    .filter(([, spec]) => spec.type === "string")
    .map(([name]) => `--${name}`),
);

/** Runs one CLI invocation; resolves to the exit code (for serve: once the daemon serves). */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const at = commandIndex(argv);
  const name = at === -1 ? undefined : argv[at];
  if (name === "serve") {
    if (at > 0) return fail(new UsageError("serve takes the daemon's options after it: stowd serve [options]"), "", argv);
    await serve(argv.slice(1), env);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  const rest = at === -1 ? argv : [...argv.slice(0, at), ...argv.slice(at + 1)];
  let flags: FlagValues;
  let positionals: string[];
  try {
    ({ values: flags, positionals } = parseArgs({
      args: rest,
      options: { ...GLOBAL_FLAGS, ...command?.flags },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    return fail(new UsageError(err instanceof Error ? err.message : String(err)), command?.name ?? "", argv);
  }
  if (booleanFlag(flags, "version")) {
    process.stdout.write(`stowd ${cliVersion()}\n`);
    return EXIT.ok;
  }
  if (command === undefined) {
    if (name === undefined && booleanFlag(flags, "help")) {
      process.stdout.write(`${overviewHelp(COMMANDS, SERVE_SUMMARY)}\n`);
      return EXIT.ok;
    }
    const why = name === undefined ? "no command given" : `unknown command ${JSON.stringify(name)}`;
    process.stderr.write(`stowd: ${why}\n\n${overviewHelp(COMMANDS, SERVE_SUMMARY)}\n`);
    return EXIT.usage;
  }
  if (booleanFlag(flags, "help")) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return EXIT.ok;
  }
  return runCommand(command, flags, positionals, env, argv);
}

async function runCommand(
  command: Command,
  flags: FlagValues,
  positionals: string[],
  env: NodeJS.ProcessEnv,
  argv: string[],
): Promise<number> {
  const json = booleanFlag(flags, "json");
  let address = "";
  let client: StowdClient | undefined;
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort(new Error("interrupted"));
  process.once("SIGINT", onSigint);
  try {
    const { min, max } = command.positionals;
    if (positionals.length < min || positionals.length > max) {
      const wanted = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
      throw new UsageError(`expected ${wanted} argument${max === 1 ? "" : "s"}, got ${positionals.length}: ${command.synopsis}`);
    }
    const connection = await connectionOf(flags, env);
    address = connection.baseUrl;
    const timeout = stringFlag(flags, "timeout");
    const timeoutMs = timeout === undefined ? undefined : parseDurationFlag(timeout, "timeout");
    const context: CommandContext = {
      client: () => (client ??= createStowdClient({ ...connection.client, ...(timeoutMs === undefined ? {} : { timeoutMs }) })),
      address,
      out: createOutput({ json, stdout: process.stdout }),
      progress: !json && !booleanFlag(flags, "no-progress") && process.stderr.isTTY === true,
      signal: interrupt.signal,
    };
    await command.run(context, flags, positionals);
    return EXIT.ok;
  } catch (err) {
    if (interrupt.signal.aborted) {
      if (!json) process.stderr.write(`stowd ${command.name}: interrupted\n`);
      return EXIT.interrupted;
    }
    return fail(err, command.name, argv, json, address);
  } finally {
    process.off("SIGINT", onSigint);
    client?.close();
  }
}

function fail(err: unknown, command: string, argv: string[], json = argv.includes("--json"), address = ""): number {
  const exitCode = exitCodeFor(err);
  reportError(err, { command, json, address, exitCode, stderr: process.stderr });
  return exitCode;
}

/** Where the command name is: the first argument that is neither a flag nor a global flag's value. */
function commandIndex(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") return -1;
    if (!arg.startsWith("-")) return i;
    if (VALUE_FLAGS.has(arg)) i++;
  }
  return -1;
}
