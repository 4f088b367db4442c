// What the Go and Python example-client tests share: probing the Debian tools
// they need (a missing one fails the suite with the install command), running
// a program, and checking a round trip's output. Each example checks every
// answer itself and prints an "ok: ..." line per check; the tests check the
// exit code, that the lines they rely on are there, and that the example
// cleaned up after itself.
import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const INSTALL_HINT = "run `bash scripts/install-test-servers.sh` to install it";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` in the repository; never rejects (the exit code is in the result, null when killed). */
export function run(command: string, args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: REPO, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Returns the tool's stdout; throws, naming the Debian package and the install script, when it is not usable. */
export function requireTool(command: string, args: string[], pkg: string, neededBy: string): string {
  const probe = spawnSync(command, args, { encoding: "utf8" });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      `${command} is not usable (Debian package ${pkg}, needed by ${neededBy}); ${INSTALL_HINT}. ${probe.stderr ?? ""}`.trim(),
    );
  }
  return probe.stdout;
}

/**
 * A successful round trip: no error output, exit 0, a line starting with each
 * of `expected`, "all checks passed" last, and nothing left under `prefix`
 * (listed through the daemon's HTTP port, as curl would).
 */
export async function expectRoundTrip(result: Run, expected: string[], httpUrl: string, prefix: string): Promise<void> {
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const lines = result.stdout.split("\n");
  for (const start of expected) {
    expect(
      lines.some((line) => line.startsWith(start)),
      `output has a line starting with ${JSON.stringify(start)}:\n${result.stdout}`,
    ).toBe(true);
  }
  expect(lines.filter((line) => line !== "").at(-1)).toBe("all checks passed");
  const listed = await fetch(`${httpUrl}/stowd.v1.RawStoreService/List`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ reference: `${prefix}/` }),
  });
  expect(await listed.json()).toEqual({});
}

/** A run stopped by the daemon's download limit (1 MiB) after its 2 MiB write: exit 1 naming the code and reason. */
export function expectRefusedByDownloadLimit(result: Run): void {
  expect(result.code).toBe(1);
  expect(result.stdout).toContain("ok: Head: size 2097152");
  expect(result.stdout).not.toContain("all checks passed");
  expect(result.stderr).toMatch(
    /^FAILED: unexpected error from stowd: RESOURCE_EXHAUSTED \(ERROR_REASON_LIMIT_EXCEEDED\): limit exceeded\./,
  );
}
