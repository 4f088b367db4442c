// ConfigError: the one error the config loader throws. It lists every problem
// found (not just the first), each naming the full key path, the file and
// line when known, what was given and what is accepted, so a user can fix a
// config in one pass. main.ts prints the message (no stack) and exits 2.

/** One thing wrong with the configuration. */
export interface ConfigProblem {
  /** Where the value came from: a config file path, an env var name or "command line". */
  source?: string;
  /** 1-based line in `source` when it is a file and the line is known. */
  line?: number;
  /** Full key path (`storage.limits.maxDownloadMBs`), env var name or flag. */
  path: string;
  /** What is wrong: what was given and what is accepted. */
  message: string;
}

/** `file:7: path: message`, the form compilers use, so editors can jump to it. */
export function formatProblem(problem: ConfigProblem): string {
  const where =
    problem.source === undefined ? "" : problem.line === undefined ? `${problem.source}: ` : `${problem.source}:${problem.line}: `;
  return `${where}${problem.path}: ${problem.message}`;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options?: ErrorOptions) {
    super(problems.map(formatProblem).join("\n"), options);
    this.problems = problems;
  }
}
