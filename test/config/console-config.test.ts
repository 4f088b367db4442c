// server.console: on by default, off by default when the HTTP port is on a
// non-loopback address with no authentication (decided after env vars and
// flags), explicit on/off as given, and an explicit "on" in that exposed
// case only with --insecure.
import { describe, expect, it } from "vitest";
import type { StowdConfig } from "../../server/config/config.js";
import { checkConsoleExposure, consoleEnabled } from "../../server/config/console-config.js";
import { ConfigError, loadConfig, SERVER_DEFAULTS } from "../../server/config/load-config.js";
import { tempFiles } from "../helpers/temp-files.js";

const file = tempFiles("stowd-console-config-");
const TOKEN = "0123456789abcdef0123";

function configText(server: string): string {
  return `storage:\n  type: mem\n  enable-multicontainer: true\nserver:\n${server}`;
}

async function load(server: string, env: NodeJS.ProcessEnv = {}, argv: string[] = [], warnings: string[] = []): Promise<StowdConfig> {
  return loadConfig(["--config", await file(configText(server)), ...argv], env, { warn: (m) => warnings.push(m) });
}

async function problems(server: string, env: NodeJS.ProcessEnv = {}, argv: string[] = []): Promise<string> {
  const path = await file(configText(server));
  const err = await loadConfig(["--config", path, ...argv], env, { warn: () => {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).message.replaceAll(path, "FILE");
}

describe("server.console", () => {
  it("is on by default on a loopback HTTP address, with or without authentication", async () => {
    expect(consoleEnabled((await load("  logLevel: info\n")).server)).toBe(true);
    expect(consoleEnabled((await load("  httpAddress: localhost:8080\n", { STOWD_AUTH_TOKEN: TOKEN })).server)).toBe(true);
    expect(consoleEnabled(SERVER_DEFAULTS)).toBe(true);
  });

  it("is off by default on a non-loopback HTTP address without authentication, however the address was given", async () => {
    const warnings: string[] = [];
    const fromFile = await load("  httpAddress: 0.0.0.0:8080\n", {}, ["--insecure"], warnings);
    expect(consoleEnabled(fromFile.server)).toBe(false);
    expect(warnings.some((w) => w.includes("console"))).toBe(false);
    const fromEnv = await load("  logLevel: info\n", { STOWD_HTTP_ADDRESS: "0.0.0.0:8080", STOWD_INSECURE: "true" });
    expect(consoleEnabled(fromEnv.server)).toBe(false);
    const fromFlag = await load("  logLevel: info\n", {}, ["--http-address", "[::]:8080", "--insecure"]);
    expect(consoleEnabled(fromFlag.server)).toBe(false);
  });

  it("is on by default on a non-loopback HTTP address once callers must authenticate", async () => {
    const config = await load("  httpAddress: 0.0.0.0:8080\n", { STOWD_AUTH_TOKEN: TOKEN }, ["--insecure"]);
    expect(config.server.console).toBeUndefined();
    expect(consoleEnabled(config.server)).toBe(true);
  });

  it("takes enabled: false and enabled: true as given", async () => {
    const off = await load("  console:\n    enabled: false\n");
    expect([off.server.console, consoleEnabled(off.server)]).toEqual([{ enabled: false }, false]);
    const on = await load("  console:\n    enabled: true\n");
    expect([on.server.console, consoleEnabled(on.server)]).toEqual([{ enabled: true }, true]);
    const exposedOff = await load("  httpAddress: 0.0.0.0:8080\n  console:\n    enabled: false\n", {}, ["--insecure"]);
    expect(consoleEnabled(exposedOff.server)).toBe(false);
  });

  it("serves an explicitly enabled console exposed without authentication only with --insecure, and warns", async () => {
    const warnings: string[] = [];
    const config = await load("  httpAddress: 0.0.0.0:8080\n  console:\n    enabled: true\n", {}, ["--insecure"], warnings);
    expect(consoleEnabled(config.server)).toBe(true);
    expect(warnings.filter((w) => w.startsWith("insecure: server.console.enabled"))).toHaveLength(1);

    // Without --insecure the listener's own exposure check already refuses the file, so the rule is checked on its own too.
    const exposed = { ...SERVER_DEFAULTS, httpAddress: "0.0.0.0:8080", console: { enabled: true } };
    const problem = checkConsoleExposure(exposed, () => {});
    expect(problem).toContain("the console lets anyone who can reach 0.0.0.0:8080 browse, download, upload and delete");
    expect(problem).toContain("or pass --insecure (STOWD_INSECURE=true, server.insecure: true)");
    expect(checkConsoleExposure({ ...exposed, auth: { token: TOKEN } }, () => {})).toBeUndefined();
    expect(checkConsoleExposure({ ...SERVER_DEFAULTS, httpAddress: "0.0.0.0:8080" }, () => {})).toBeUndefined();
    expect(checkConsoleExposure({ ...exposed, httpAddress: "127.0.0.1:8080" }, () => {})).toBeUndefined();
  });

  it("names a value that is not a boolean and a key it does not know", async () => {
    expect(await problems("  console:\n    enabled: sometimes\n")).toMatch(
      /^FILE:6: server\.console\.enabled: "sometimes" is not a boolean/,
    );
    expect(await problems("  console:\n    enable: true\n")).toContain("server.console.enable");
  });
});
