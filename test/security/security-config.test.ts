// The security config keys (server.tls, server.auth, server.insecure,
// STOWD_AUTH_TOKEN, --insecure), the insecure-bind guard (in loadConfig and
// through `server/main.ts`, which exits 2), the token file's validation, and
// grant prefix matching.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startChild } from "../helpers/child-process.js";
import { DAEMON_COMMAND } from "../helpers/serving-daemon.js";
import { ConfigError, loadConfig } from "../../server/config/load-config.js";
import { parseReference } from "../../server/references/reference.js";
import { allows, covers, parseGrantPrefix, type GrantPrefix } from "../../server/security/grants.js";
import { isLoopbackAddress } from "../../server/config/loopback.js";
import { authenticate, credentialsOf } from "../../server/security/authenticate.js";
import { loadTokenFile, parseTokenFile } from "../../server/security/token-file.js";

const dir = mkdtempSync(join(tmpdir(), "stowd-sec-config-"));
function configFile(server: string): string {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `storage:\n  type: mem\n  enable-multicontainer: true\nserver:\n${server}`);
  return file;
}
const tlsBlock = "  tls:\n    certFile: /etc/stowd/tls.crt\n    keyFile: /etc/stowd/tls.key\n";

async function problems(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    await loadConfig(argv, env);
    return "";
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}

describe("the insecure-bind guard", () => {
  it("refuses a non-loopback address with neither TLS nor auth, naming --insecure", async () => {
    const message = await problems(["--grpc-address", "0.0.0.0:50051"]);
    expect(message).toMatch(/^server\.grpcAddress: /);
    expect(message).toContain("0.0.0.0:50051 is not a loopback address");
    expect(message).toContain("no TLS");
    expect(message).toContain("no authentication");
    expect(message).toContain("--insecure");
    expect(await problems(["--http-address", "[::]:8080"])).toContain("server.httpAddress: [::]:8080 is not a loopback address");
    expect(await problems([], { STOWD_HTTP_ADDRESS: "10.1.2.3:8080" })).toContain("--insecure");
  });

  it("wants both TLS and authentication off loopback", async () => {
    const tlsOnly = await problems(["--config", configFile(tlsBlock), "--grpc-address", "0.0.0.0:1"]);
    expect(tlsOnly).toContain("no authentication");
    expect(tlsOnly).not.toContain("no TLS");
    const tokenOnly = await problems(["--grpc-address", "0.0.0.0:1"], { STOWD_AUTH_TOKEN: "0123456789abcdef0123" });
    expect(tokenOnly).toContain("no TLS");
    expect(tokenOnly).not.toContain("no authentication");
    expect(
      await problems(["--config", configFile(tlsBlock), "--grpc-address", "0.0.0.0:1"], { STOWD_AUTH_TOKEN: "0123456789abcdef0123" }),
    ).toBe("");
    expect(
      await problems([
        "--config",
        configFile(`${tlsBlock}  auth:\n    tokenFile: /etc/stowd/tokens.yaml\n`),
        "--grpc-address",
        "0.0.0.0:1",
      ]),
    ).toBe("");
    // Mutual TLS authenticates clients by certificate.
    expect(
      await problems(["--config", configFile(`${tlsBlock}    clientCaFile: /etc/stowd/ca.crt\n`), "--http-address", "0.0.0.0:1"]),
    ).toBe("");
  });

  it("lets --insecure, STOWD_INSECURE or server.insecure through, with a warning", async () => {
    const warnings: string[] = [];
    await loadConfig(["--grpc-address", "0.0.0.0:50051", "--insecure"], {}, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      expect.stringMatching(
        /^insecure: server\.grpcAddress 0\.0\.0\.0:50051 is not a loopback address .* serving anyway because of --insecure$/,
      ),
    ]);
    expect(await problems(["--grpc-address", "0.0.0.0:50051"], { STOWD_INSECURE: "true" })).toBe("");
    expect(await problems(["--config", configFile("  insecure: true\n"), "--grpc-address", "0.0.0.0:50051"])).toBe("");
    expect(await problems(["--grpc-address", "0.0.0.0:50051"], { STOWD_INSECURE: "yes" })).toContain(
      'STOWD_INSECURE: "yes" is not a boolean',
    );
  });

  it("treats only loopback addresses as loopback", () => {
    for (const a of ["127.0.0.1:1", "127.9.8.7:1", "localhost:1", "[::1]:1", "[0:0:0:0:0:0:0:1]:1", "[::ffff:127.0.0.1]:1"])
      expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ["0.0.0.0:1", "[::]:1", "10.0.0.1:1", "192.168.1.1:1", "myhost:1", "[::ffff:10.0.0.1]:1", "128.0.0.1:1"])
      expect(isLoopbackAddress(a), a).toBe(false);
  });

  it("makes server/main.ts exit 2 with the message", async () => {
    const [program = "", ...args] = DAEMON_COMMAND;
    const child = startChild(program, [...args, "--grpc-address", "0.0.0.0:0", "--http-address", "127.0.0.1:0"], {
      env: { ...process.env, STOWD_AUTH_TOKEN: "", STOWD_INSECURE: "" },
    });
    const code = await child.exited;
    const stderr = child.stderrLines.join("\n");
    expect(code).toBe(2);
    expect(stderr).toContain("server.grpcAddress: 0.0.0.0:0 is not a loopback address");
    expect(stderr).toContain("pass --insecure");
  }, 30_000);
});

describe("server.tls and server.auth keys", () => {
  it("reports half-given TLS settings and unknown keys with their lines", async () => {
    const message = await problems([
      "--config",
      configFile("  tls:\n    certFile: /x.crt\n    clientCA: /ca.crt\n  auth:\n    tokens: /t.yaml\n"),
    ]);
    expect(message).toContain(":6: server.tls.certFile: needs keyFile too");
    expect(message).toContain(":7: server.tls.clientCA: unknown key (did you mean clientCaFile?)");
    expect(message).toContain(":9: server.auth.tokens: unknown key");
  });

  it("checks STOWD_AUTH_TOKEN without echoing it", async () => {
    const message = await problems([], { STOWD_AUTH_TOKEN: "short secret" });
    expect(message).toContain("STOWD_AUTH_TOKEN: must be at least 16 characters");
    expect(message).not.toContain("short secret");
    const config = await loadConfig([], { STOWD_AUTH_TOKEN: "0123456789abcdef0123" });
    expect(config.server.auth).toEqual({ token: "0123456789abcdef0123" });
  });

  it("a missing certificate file stops the daemon with exit 2 naming the key", async () => {
    const file = configFile("  tls:\n    certFile: /nonexistent/tls.crt\n    keyFile: /nonexistent/tls.key\n");
    const [program = "", ...args] = DAEMON_COMMAND;
    const child = startChild(program, [...args, "--config", file, "--grpc-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0"]);
    expect(await child.exited).toBe(2);
    const stderr = child.stderrLines.join("\n");
    expect(stderr).toContain('server.tls.certFile: cannot read "/nonexistent/tls.crt" (ENOENT)');
  }, 30_000);
});

describe("the token file", () => {
  const hash = "a".repeat(64);

  it("reports every mistake with its line and path", () => {
    const text = [
      "tokens:", //                                   1
      "  - name: a", //                               2
      "    sha256: my-secret-token", //               3
      "    grants:", //                               4
      "      - operations: [read, reed]", //          5
      '        prefixes: ["s3://b/team-a"]', //       6
      "  - name: a", //                               7
      `    sha256: ${hash}`, //                       8
      "    grant: []", //                             9
      "clients:", //                                  10
      "  - name: c", //                               11
      "    commonName: x", //                         12
      "    subjectAltName: DNS:x", //                 13
      "    grants: [{operations: [read], prefixes: ['s3://b/../c/']}]", // 14
    ].join("\n");
    let message = "";
    try {
      parseTokenFile(text, "tokens.yaml");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("tokens.yaml:3: tokens[0].sha256: must be the 64 hex digits of the token's SHA-256");
    expect(message).not.toContain("my-secret-token");
    expect(message).toContain(
      'tokens.yaml:5: tokens[0].grants[0].operations[1]: "reed" is not one of read, write, list, delete, sign, admin',
    );
    expect(message).toContain('tokens.yaml:6: tokens[0].grants[0].prefixes[0]: "s3://b/team-a" must end with "/"');
    expect(message).toContain('tokens.yaml:7: tokens[1].name: "a" is also the name of tokens[0].name');
    expect(message).toContain("tokens.yaml:9: tokens[1].grant: unknown key; tokens[1] takes name, sha256, grants");
    expect(message).toContain("tokens[1].grants: is required");
    expect(message).toContain("tokens.yaml:11: clients[0]: give exactly one of commonName");
    expect(message).toContain('clients[0].grants[0].prefixes[0]: invalid reference "s3://b/../c/"');
  });

  it("examples/auth/tokens.yaml loads, and its documented example token is team-a-ci", async () => {
    const credentials = credentialsOf(await loadTokenFile("examples/auth/tokens.yaml"), undefined);
    const principal = authenticate(credentials, "Bearer example-team-a-token-change-me", undefined);
    expect(principal.name).toBe("team-a-ci");
    expect(allows(principal.grants, "write", parseReference("file://bucket/team-a/x"))).toBe(true);
    expect(allows(principal.grants, "write", parseReference("file://bucket/team-b/x"))).toBe(false);
    expect(allows(principal.grants, "read", parseReference("file://bucket/team-b/x"))).toBe(true);
    expect(authenticate(credentials, null, { commonName: "worker-a.internal", subjectAltNames: [] }).name).toBe("worker-a");
  });

  it("refuses a file that grants nobody anything", () => {
    expect(() => parseTokenFile("tokens: []\n", "t.yaml")).toThrow(/lists no tokens and no clients/);
  });

  it("reads tokens and clients", () => {
    const file = parseTokenFile(
      `tokens:\n  - name: t\n    sha256: ${hash.toUpperCase()}\n    grants:\n      - operations: [read]\n        prefixes: ["*"]\nclients:\n  - name: c\n    subjectAltName: "URI:spiffe://x/y"\n    grants: [{operations: [admin], prefixes: ["gs://b/"]}]\n`,
      "t.yaml",
    );
    expect(file.tokens[0]?.sha256.toString("hex")).toBe(hash);
    expect(file.clients[0]?.subjectAltName).toBe("URI:spiffe://x/y");
  });
});

describe("grant prefixes", () => {
  const prefix = (text: string) => parseGrantPrefix(text) as GrantPrefix;

  it("match the parsed scheme, container and key prefix", () => {
    const teamA = prefix("s3://b/team-a/");
    expect(covers(teamA, parseReference("s3://b/team-a/x"))).toBe(true);
    expect(covers(teamA, parseReference("S3://b/team-a/deep/x"))).toBe(true);
    expect(covers(teamA, parseReference("s3://b/team-ab/x"))).toBe(false);
    expect(covers(teamA, parseReference("s3://b/team-a"))).toBe(false);
    expect(covers(teamA, parseReference("s3://c/team-a/x"))).toBe(false);
    expect(covers(teamA, parseReference("gs://b/team-a/x"))).toBe(false);
    expect(() => parseReference("s3://b/team-a/../team-b/x")).toThrow(/"\.\." path segments are not allowed/);
    expect(covers(prefix("s3://b/"), parseReference("s3://b/anything"))).toBe(true);
    expect(covers(prefix("*"), parseReference("redis://h:6379/k"))).toBe(true);
    expect(parseGrantPrefix("s3://b/team-a")).toMatch(/must end with "\/"/);
    expect(parseGrantPrefix("team-a/")).toMatch(/invalid reference/);
  });

  it("let admin stand for every operation", () => {
    const grants = [{ operations: new Set(["admin"] as const), prefixes: [prefix("s3://b/team-a/")] }];
    for (const op of ["read", "write", "list", "delete", "sign"] as const)
      expect(allows(grants, op, parseReference("s3://b/team-a/x"))).toBe(true);
    expect(allows(grants, "read", parseReference("s3://b/team-b/x"))).toBe(false);
  });
});
