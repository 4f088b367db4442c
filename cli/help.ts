// The --help texts: the overview and one page per command, each with the
// global options, the exit codes and examples.
import type { Command } from "./command.js";
import { EXIT_CODES_HELP } from "./exit-codes.js";
import { GLOBAL_FLAG_HELP } from "./global-options.js";

const REFERENCES_HELP = `references: scheme://container/key, e.g. file://bucket/dir/a.txt (the daemon's
local disk), mem://b/k, s3://bucket/key, gs://, abfs://, redis://. Any other argument
is a path on this machine; - is stdin or stdout.`;

export function overviewHelp(commands: readonly Command[], serveSummary: string): string {
  const width = Math.max(...commands.map((c) => c.name.length), "serve".length);
  const lines = [["serve", serveSummary], ...commands.map((c) => [c.name, c.summary])].map(
    ([name = "", summary = ""]) => `  ${name.padEnd(width)}  ${summary}`,
  );
  return `usage: stowd [global options] COMMAND [options] [arguments]

stowd is a gRPC storage daemon (stowd serve) and its command-line client: every
other command talks to a running daemon over gRPC, through the TypeScript SDK.

commands:
${lines.join("\n")}

${GLOBAL_FLAG_HELP}

${REFERENCES_HELP}

${EXIT_CODES_HELP}

examples:
  stowd serve --config examples/local.yaml
  stowd put ./big.bin file://bucket/data/big.bin
  stowd ls file://bucket/data/
  stowd sync --delete ./site/ file://bucket/site/
  stowd du -s file://bucket/data/
  stowd --json stat file://bucket/data/big.bin
  STOWD_ADDRESS=stowd.internal:50051 stowd get file://bucket/data/big.bin /tmp/
  STOWD_TOKEN=$(cat token) stowd --address https://stowd:50051 --ca-file ca.crt ls file://bucket/`;
}

export function commandHelp(command: Command): string {
  const flags = command.flagHelp.length === 0 ? "" : `options:\n${command.flagHelp.map((l) => `  ${l}`).join("\n")}\n\n`;
  return `usage: ${command.synopsis}

${command.description}

${flags}${GLOBAL_FLAG_HELP}

${EXIT_CODES_HELP}

examples:
${command.examples.map((e) => `  ${e}`).join("\n")}`;
}
