// server.signedUrls: keys inline or in a key file, each mistake named with
// file:line and what to change, never showing a secret; a base URL that
// clients can dial. And the daemon as `npm start` runs it: a wildcard bind
// without baseUrl exits 2, and a loopback one signs URLs naming the port it
// actually bound.
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createStowdClient } from "../../client/index.js";
import type { StowdConfig } from "../../server/config/config.js";
import { ConfigError, loadConfig } from "../../server/config/load-config.js";
import { loadSigningKeyFile } from "../../server/config/signed-url-config.js";
import { DAEMON_COMMAND, startServingProcess } from "../helpers/serving-daemon.js";
import { startChild } from "../helpers/child-process.js";
import { tempFiles } from "../helpers/temp-files.js";
import { httpRequest } from "./plain-http.js";
import { SECRET_A, SECRET_B } from "./signed-url-daemon.js";

const file = tempFiles("stowd-signed-url-config-");

function configText(server: string, httpAddress = "127.0.0.1:0"): string {
  return `storage:\n  type: mem\n  enable-multicontainer: true\nserver:\n  grpcAddress: 127.0.0.1:0\n  httpAddress: ${httpAddress}\n${server}`;
}

async function load(server: string, httpAddress?: string): Promise<StowdConfig> {
  return loadConfig(["--config", await file(configText(server, httpAddress))], {}, { warn: () => {} });
}

/** The ConfigError's message with the temp file's path cut to "FILE". */
async function problems(server: string, httpAddress?: string, argv: string[] = []): Promise<string> {
  const path = await file(configText(server, httpAddress));
  const err = await loadConfig(["--config", path, ...argv], {}, { warn: () => {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).message.replaceAll(path, "FILE");
}

describe("server.signedUrls", () => {
  it("is off unless given; takes inline keys (the first signs) and a base URL without its trailing slash", async () => {
    expect((await load("")).server.signedUrls).toBeUndefined();
    const config = await load(
      [
        "  signedUrls:",
        "    baseUrl: https://stowd.example:8081/",
        "    keys:",
        `      - {id: "2026-12", secret: ${SECRET_B}}`,
        `      - {id: "2026-11", secret: ${SECRET_A}}`,
        "",
      ].join("\n"),
    );
    expect(config.server.signedUrls).toEqual({
      baseUrl: "https://stowd.example:8081",
      keys: [
        { id: "2026-12", secret: SECRET_B },
        { id: "2026-11", secret: SECRET_A },
      ],
    });
  });

  it("names short secrets, duplicate and bad ids, missing fields, and keys given twice, each at its line, without the secret", async () => {
    const message = await problems(
      [
        "  signedUrls:",
        "    keys:",
        '      - {id: "a", secret: "short-secret-value"}',
        `      - {id: "a", secret: ${SECRET_A}}`,
        `      - {id: "has space", secret: ${SECRET_B}}`,
        "      - {id: only-id}",
        "    keyFile: /etc/stowd/keys.yaml",
        "",
      ].join("\n"),
    );
    expect(message.split("\n")).toEqual([
      "FILE:9: server.signedUrls.keys[0].secret: is 18 bytes; a signing secret needs at least 32, e.g. the output of `openssl rand -base64 32`",
      'FILE:10: server.signedUrls.keys[1].id: "a" is also the id of server.signedUrls.keys[0]; ids must be unique, or a URL could not say which key signed it',
      'FILE:11: server.signedUrls.keys[2].id: "has space" is not 1-64 letters, digits, ".", "_" or "-" (it is sent in URLs)',
      "FILE:12: server.signedUrls.keys[3]: needs secret: at least 32 bytes, e.g. the output of `openssl rand -base64 32`",
      "FILE:13: server.signedUrls.keyFile: give keys or keyFile, not both: the keys of one daemon live in one place",
    ]);
    expect(message).not.toContain("short-secret-value");
  });

  it("needs keys or a key file, and an http(s) base URL", async () => {
    expect(await problems("  signedUrls:\n    baseUrl: https://x.example\n")).toContain(
      "FILE:7: server.signedUrls: needs keys (a list of {id, secret}) or keyFile",
    );
    expect(await problems(`  signedUrls:\n    baseUrl: ftp://x.example\n    keys: [{id: k, secret: ${SECRET_A}}]\n`)).toBe(
      'FILE:8: server.signedUrls.baseUrl: "ftp://x.example" is not an http or https URL',
    );
  });

  it("refuses a wildcard HTTP bind without baseUrl, telling the user to set it", async () => {
    const server = `  signedUrls:\n    keys: [{id: k, secret: ${SECRET_A}}]\n`;
    const message = await problems(server, "0.0.0.0:8080", ["--insecure"]);
    expect(message).toBe(
      "FILE:7: server.signedUrls: server.httpAddress 0.0.0.0:8080 listens on every address, so signed URLs cannot name the one clients reach: set server.signedUrls.baseUrl (e.g. https://stowd.example:8081)",
    );
    expect(await problems(server, '"[::]:8080"', ["--insecure"])).toContain("listens on every address");
    const withBase = await loadConfig(
      ["--config", await file(configText(`${server}    baseUrl: https://stowd.example\n`, "0.0.0.0:8080")), "--insecure"],
      {},
      { warn: () => {} },
    );
    expect(withBase.server.signedUrls?.baseUrl).toBe("https://stowd.example");
  });

  it("reads a key file's keys, naming its own file and line, never a secret", async () => {
    const good = await file(`keys:\n  - id: new\n    secret: ${SECRET_B}\n  - id: old\n    secret: ${SECRET_A}\n`);
    expect(await loadSigningKeyFile(good)).toEqual([
      { id: "new", secret: SECRET_B },
      { id: "old", secret: SECRET_A },
    ]);
    const bad = await file(`keys:\n  - id: new\n    secret: not-long-enough\nsecrets: []\n`);
    const err = await loadSigningKeyFile(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message.replaceAll(bad, "KEYS");
    expect(message.split("\n")).toEqual([
      "KEYS:3: keys[0].secret: is 15 bytes; a signing secret needs at least 32, e.g. the output of `openssl rand -base64 32`",
      "KEYS:4: secrets: unknown key; the top level accepts keys",
    ]);
    expect(message).not.toContain("not-long-enough");
    const missing = await loadSigningKeyFile("/nonexistent/keys.yaml").catch((e: unknown) => e);
    expect((missing as ConfigError).message).toBe('server.signedUrls.keyFile: cannot read key file "/nonexistent/keys.yaml" (ENOENT)');
  });
});

describe("the daemon as npm start runs it", () => {
  it("exits 2 for a wildcard bind with keys and no baseUrl", async () => {
    const path = await file(configText(`  signedUrls:\n    keys: [{id: k, secret: ${SECRET_A}}]\n`, "0.0.0.0:0"));
    const child = startChild(DAEMON_COMMAND[0]!, [...DAEMON_COMMAND.slice(1), "--config", path, "--insecure"], { env: { ...process.env } });
    expect(await child.exited).toBe(2);
    expect(child.stderrLines.join("\n")).toContain("set server.signedUrls.baseUrl");
  });

  it("signs URLs naming the HTTP port it bound (port 0), from keys in a key file, and serves them", async () => {
    const keyFile = await file(`keys:\n  - id: only\n    secret: ${SECRET_A}\n`);
    const path = await file(configText(`  signedUrls:\n    keyFile: ${keyFile}\n`));
    const serving = await startServingProcess([...DAEMON_COMMAND, "--config", path]);
    const client = createStowdClient({ baseUrl: `http://${serving.grpc}`, timeoutMs: 30_000 });
    try {
      await client.write("mem://bucket/served", "served by npm start");
      const signed = await client.createSignedUrl("mem://bucket/served", { method: "GET", expiresInSeconds: 60 });
      expect(signed.url.startsWith(`http://${serving.http}/signed/mem/bucket/served?`)).toBe(true);
      const res = await httpRequest(signed.url);
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe("served by npm start");
      // The secret never reaches the log; the key id does.
      expect(serving.log.join("\n")).not.toContain(SECRET_A);
      expect(serving.log.join("\n")).toContain("keys only");
      const getWithLength = await client
        .createSignedUrl("mem://bucket/x", { method: "GET", expiresInSeconds: 60, contentLength: 1 })
        .catch((e: unknown) => e);
      expect((getWithLength as { code: Code; message: string }).code).toBe(Code.InvalidArgument);
      expect((getWithLength as { message: string }).message).toContain("content_length: applies to PUT URLs only");
    } finally {
      client.close();
      await serving.child.kill();
    }
  });
});
