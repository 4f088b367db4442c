// server.cors: off unless given; origins must be written as browsers send
// them (each mistake named with a suggestion); "*" only alone, and only with
// authentication or --insecure.
import { describe, expect, it } from "vitest";
import type { StowdConfig } from "../../server/config/config.js";
import { DEFAULT_CORS_MAX_AGE_MS } from "../../server/config/cors-config.js";
import { ConfigError, loadConfig } from "../../server/config/load-config.js";
import { tempFiles } from "../helpers/temp-files.js";

const file = tempFiles("stowd-cors-config-");
const TOKEN = "0123456789abcdef0123";

/** A mem:// config whose server: block is `server` (indented lines). */
function configText(server: string): string {
  return `storage:\n  type: mem\n  enable-multicontainer: true\nserver:\n${server}`;
}

async function load(server: string, env: NodeJS.ProcessEnv = {}, argv: string[] = [], warnings: string[] = []): Promise<StowdConfig> {
  return loadConfig(["--config", await file(configText(server)), ...argv], env, { warn: (m) => warnings.push(m) });
}

/** The ConfigError's message (file:line: key: problem lines), with the temp file's path cut to "FILE". */
async function problems(server: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const path = await file(configText(server));
  const err = await loadConfig(["--config", path], env, { warn: () => {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).message.replaceAll(path, "FILE");
}

describe("server.cors", () => {
  it("is off when not given", async () => {
    const config = await load("  logLevel: info\n");
    expect(config.server.cors).toBeUndefined();
  });

  it("reads the allowed origins and the preflight cache time", async () => {
    const config = await load(
      "  cors:\n    allowedOrigins: [https://app.example, http://localhost:3000, 'http://[::1]:8081']\n    maxAge: 10m\n",
    );
    expect(config.server.cors).toEqual({
      allowedOrigins: ["https://app.example", "http://localhost:3000", "http://[::1]:8081"],
      maxAgeMs: 600_000,
    });
  });

  it("caches preflights for 2 h by default, and takes a comma-separated string as a list", async () => {
    const config = await load("  cors:\n    allowedOrigins: https://a.example, https://b.example\n");
    expect(config.server.cors).toEqual({ allowedOrigins: ["https://a.example", "https://b.example"], maxAgeMs: DEFAULT_CORS_MAX_AGE_MS });
    expect(DEFAULT_CORS_MAX_AGE_MS).toBe(7_200_000);
  });

  it("names each origin a browser would never send, with what it would send", async () => {
    const message = await problems(
      [
        "  cors:",
        "    allowedOrigins:",
        "      - https://app.example/",
        "      - https://App.Example",
        "      - https://app.example:443",
        "      - https://app.example/ui",
        "      - app.example",
        "      - ftp://files.example",
        "      - https://*.example",
        '      - "null"',
        "",
      ].join("\n"),
    );
    const lines = message.split("\n");
    expect(lines).toHaveLength(8);
    for (const line of lines) expect(line).toMatch(/^FILE:6: server\.cors\.allowedOrigins: /);
    expect(message).toContain('"https://app.example/" is not an origin as browsers send it');
    expect(message).toContain('did you mean "https://app.example"?');
    expect(lines.filter((l) => l.includes('did you mean "https://app.example"?'))).toHaveLength(4);
    expect(message).toContain('"app.example" is not an origin: give scheme://host[:port], e.g. https://app.example');
    expect(message).toContain('"ftp://files.example" is not an http or https origin');
    expect(message).toContain('"https://*.example": patterns are not supported');
    expect(message).toContain('"null" is the origin of sandboxed frames and local files');
  });

  it("wants at least one origin when the section is given", async () => {
    expect(await problems("  cors:\n    maxAge: 1m\n")).toBe(
      'FILE:5: server.cors: needs allowedOrigins: the origins of the web apps that call stowd (e.g. ["https://app.example"]), or "*" for any; remove server.cors to keep CORS off',
    );
    expect(await problems("  cors:\n    allowedOrigins: []\n")).toMatch(/^FILE:6: server\.cors\.allowedOrigins: needs allowedOrigins/);
  });

  it("rejects unknown keys and bad durations, suggesting the key meant", async () => {
    const message = await problems("  cors:\n    allowedOrigin: [https://app.example]\n    maxAge: forever\n");
    expect(message).toContain("FILE:6: server.cors.allowedOrigin: unknown key (did you mean allowedOrigins?)");
    expect(message).toContain('FILE:7: server.cors.maxAge: "forever" is not a duration >= 0');
  });

  it('takes "*" only alone', async () => {
    expect(await problems('  cors:\n    allowedOrigins: ["*", https://app.example]\n', { STOWD_AUTH_TOKEN: TOKEN })).toBe(
      'FILE:6: server.cors.allowedOrigins: "*" already allows every origin: give "*" alone, or list the origins without it',
    );
  });

  it('refuses "*" without authentication unless --insecure, and takes it with a token', async () => {
    const wildcard = '  cors:\n    allowedOrigins: ["*"]\n';
    const message = await problems(wildcard);
    expect(message).toMatch(/^FILE:6: server\.cors\.allowedOrigins: "\*" lets any web page/);
    expect(message).toContain("no authentication");
    expect(message).toContain("--insecure");

    const warnings: string[] = [];
    const insecure = await load(wildcard, {}, ["--insecure"], warnings);
    expect(insecure.server.cors?.allowedOrigins).toEqual(["*"]);
    expect(warnings).toEqual([
      expect.stringMatching(/^insecure: server\.cors\.allowedOrigins "\*" lets any web page .* serving anyway because of --insecure$/),
    ]);

    const withToken = await load(wildcard, { STOWD_AUTH_TOKEN: TOKEN });
    expect(withToken.server.cors).toEqual({ allowedOrigins: ["*"], maxAgeMs: DEFAULT_CORS_MAX_AGE_MS });
  });

  it("lets listed origins call a daemon without authentication (the operator chose them)", async () => {
    const config = await load("  cors:\n    allowedOrigins: [http://localhost:5173]\n");
    expect(config.server.auth).toBeUndefined();
    expect(config.server.cors?.allowedOrigins).toEqual(["http://localhost:5173"]);
  });
});
