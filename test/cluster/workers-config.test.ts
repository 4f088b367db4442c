// server.workers in the config: a whole number >= 1, absent = one process;
// a bad value (or several workers over mem://, which lives in one process's
// memory) is a ConfigError at file:line, and the daemon exits 2 on it.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../server/config/load-config.js";
import { REPO_ROOT } from "../helpers/repo-root.js";
import { tempFiles } from "../helpers/temp-files.js";

const file = tempFiles("stowd-workers-config-");
const LOCAL = "storage:\n  type: local\n  stow:\n    kind: local\n    config:\n      path: /tmp/stowd-data\n";

function problem(text: string): string {
  try {
    parseConfig(text, { source: "w.yaml" });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error("the config was accepted");
}

describe("server.workers", () => {
  it("is absent (one process) by default and takes a whole number >= 1", () => {
    expect(parseConfig(LOCAL).server.workers).toBeUndefined();
    expect(parseConfig(`${LOCAL}server:\n  workers: 1\n`).server.workers).toBe(1);
    expect(parseConfig(`${LOCAL}server:\n  workers: 4\n`).server.workers).toBe(4);
    expect(parseConfig(`${LOCAL}server:\n  workers: "2"\n`).server.workers).toBe(2);
  });

  it("rejects 0, fractions and words with file:line", () => {
    const expected = "is not an integer >= 1 (processes serving both ports; 1 = one process)";
    expect(problem(`${LOCAL}server:\n  workers: 0\n`)).toBe(`w.yaml:8: server.workers: 0 ${expected}`);
    expect(problem(`${LOCAL}server:\n  workers: 1.5\n`)).toBe(`w.yaml:8: server.workers: 1.5 ${expected}`);
    expect(problem(`${LOCAL}server:\n  workers: two\n`)).toBe(`w.yaml:8: server.workers: "two" ${expected}`);
  });

  it("rejects several workers over mem://", () => {
    expect(problem("storage:\n  type: mem\nserver:\n  workers: 2\n")).toBe(
      "w.yaml:4: server.workers: 2 workers would each hold their own mem:// (what one stores, the others would not see): use 1 worker, or remove mem:// (storage.type mem)",
    );
    expect(problem(`${LOCAL}  schemes:\n    mem: {}\nserver:\n  workers: 2\n`)).toContain(
      "w.yaml:10: server.workers: 2 workers would each",
    );
    expect(parseConfig("storage:\n  type: mem\nserver:\n  workers: 1\n").server.workers).toBe(1);
  });

  it("stops the daemon with exit code 2 before any worker starts", async () => {
    const path = await file(`${LOCAL}server:\n  workers: 0\n`);
    const result = await promisify(execFile)(process.execPath, ["--import", "tsx", "server/main.ts", "--config", path], {
      cwd: REPO_ROOT,
      env: { ...process.env, STOWD_CONFIG: "" },
    }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`${path}:8: server.workers: 0 is not an integer >= 1 (processes serving both ports; 1 = one process)\n`);
  });
});
