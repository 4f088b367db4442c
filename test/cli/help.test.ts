// --help for the CLI and every command: synopsis, options, the global
// options, the exit codes and examples that name the command; no daemon needed.
import { describe, expect, it } from "vitest";
import { runStowd } from "./stowd-process.js";

const COMMANDS = ["ls", "stat", "cat", "get", "put", "cp", "sync", "mv", "rm", "du", "sign", "info"];

describe("stowd --help", () => {
  it("lists every command, the global options, references and the exit codes", async () => {
    const result = await runStowd(["--help"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    for (const name of ["serve", ...COMMANDS]) expect(result.out).toMatch(new RegExp(`^  ${name} +\\S`, "m"));
    expect(result.out).toContain("--address ADDR");
    expect(result.out).toContain("env STOWD_ADDRESS");
    expect(result.out).toMatch(
      /^exit codes:\n {2}0 ok +1 other error +2 usage error +3 not found\n {2}4 permission denied \/ unauthenticated +5 exists or precondition failed/m,
    );
  });

  it.each(COMMANDS)("stowd %s --help has its synopsis, exit codes and examples", async (name) => {
    const result = await runStowd([name, "--help"]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.out).toMatch(new RegExp(`^usage: stowd ${name} \\[options\\]`));
    expect(result.out).toContain("global options");
    expect(result.out).toContain("exit codes:");
    const examples = result.out.slice(result.out.indexOf("\nexamples:\n"));
    expect(
      examples.split("\n").filter((line) => line.includes(`stowd ${name} `) || line.includes(`stowd --address`)).length,
    ).toBeGreaterThan(0);
  });

  it("no command or an unknown one exits 2 with the overview on stderr; --version prints the version", async () => {
    const none = await runStowd([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^stowd: no command given\n\nusage: stowd /);
    const unknown = await runStowd(["lss", "mem://b/"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^stowd: unknown command "lss"/);
    const version = await runStowd(["--version"]);
    expect(version.out).toMatch(/^stowd \d+\.\d+\.\d+\n$/);
  });
});
