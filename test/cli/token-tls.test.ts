// The CLI against daemons with TLS and auth on: --token / STOWD_TOKEN send
// the bearer token, --ca-file / STOWD_CA_FILE trust the daemon's CA (and make
// a bare host:port https://), --cert-file + --key-file present a client
// certificate for mutual TLS. What is missing or wrong says so: no token is
// exit 4 naming --token, an untrusted certificate names --ca-file, TLS flags
// with an http:// address or half a client certificate are usage errors.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestCerts, type TestCerts } from "../security/certs.js";
import { startSecureDaemon, type SecureDaemon } from "../security/secure-daemon.js";
import { runStowd } from "./stowd-process.js";

const TOKEN = "cli-test-token-0123456789abcdef";
let certs: TestCerts;
let daemon: SecureDaemon;
let mutual: SecureDaemon;

beforeAll(async () => {
  certs = makeTestCerts();
  daemon = await startSecureDaemon({ tls: { certFile: certs.serverCert, keyFile: certs.serverKey }, auth: { token: TOKEN } });
  // Mutual TLS without a token file: every client certificate the client CA signed may do everything.
  mutual = await startSecureDaemon({ tls: { certFile: certs.serverCert, keyFile: certs.serverKey, clientCaFile: certs.clientCa } });
}, 60_000);

afterAll(async () => {
  await daemon?.close();
  await mutual?.close();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

describe("stowd against a TLS + token daemon", () => {
  it("--ca-file with STOWD_TOKEN, then --token with STOWD_CA_FILE: a round trip on host:port (https implied)", async () => {
    const put = await runStowd(["--ca-file", certs.serverCa, "put", "-", "mem://b/secure.txt"], {
      address: daemon.grpcAddress,
      env: { STOWD_TOKEN: TOKEN },
      stdin: "over TLS with a token\n",
    });
    expect(put).toMatchObject({ code: 0, stderr: "" });
    const cat = await runStowd(["cat", "mem://b/secure.txt", "--token", TOKEN], {
      address: daemon.grpcUrl,
      env: { STOWD_CA_FILE: certs.serverCa },
    });
    expect(cat).toMatchObject({ code: 0, out: "over TLS with a token\n", stderr: "" });
  });

  it("info says who the token is and what it may do", async () => {
    const info = await runStowd(["info", "--token", TOKEN], { address: daemon.grpcAddress, env: { STOWD_CA_FILE: certs.serverCa } });
    expect(info.code).toBe(0);
    expect(info.out).toMatch(/^you: STOWD_AUTH_TOKEN$/m);
    expect(info.out).toMatch(/^ {2}may read, write, list, delete, sign, admin on \*$/m);
    expect(info.out).not.toContain(TOKEN);
  });

  it("without a token: exit 4, UNAUTHENTICATED, pointing at --token / STOWD_TOKEN", async () => {
    const result = await runStowd(["ls", "mem://b/"], { address: daemon.grpcAddress, env: { STOWD_CA_FILE: certs.serverCa } });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("requires authentication");
    expect(result.stderr).toContain("--token or STOWD_TOKEN");
  });

  it("without the CA: the certificate is not trusted, and the message names --ca-file", async () => {
    const result = await runStowd(["--json", "ls", "mem://b/"], { address: daemon.grpcUrl, env: { STOWD_TOKEN: TOKEN } });
    expect(result.code).toBe(1);
    const { error } = JSON.parse(result.stderr) as { error: { code: string; message: string } };
    expect(error.message).toContain("--ca-file");
  });

  it("a TLS flag with an http:// address, half a client certificate, an unreadable CA file: usage errors (exit 2)", async () => {
    const http = await runStowd(["ls", "mem://b/", "--ca-file", certs.serverCa], { address: `http://${daemon.grpcAddress}` });
    expect(http.code).toBe(2);
    expect(http.stderr).toContain("--ca-file applies to TLS");
    const half = await runStowd(["ls", "mem://b/", "--cert-file", certs.clientCert], { address: daemon.grpcAddress });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain("--key-file");
    const missing = await runStowd(["ls", "mem://b/"], { address: daemon.grpcAddress, env: { STOWD_CA_FILE: `${certs.dir}/nope.crt` } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`STOWD_CA_FILE "${certs.dir}/nope.crt" cannot be read (ENOENT)`);
  });
});

describe("stowd --help", () => {
  it("documents the token and TLS flags with their env vars", async () => {
    const help = await runStowd(["--help"]);
    expect(help.code).toBe(0);
    for (const needle of [
      "--token TOKEN",
      "STOWD_TOKEN",
      "--ca-file FILE",
      "STOWD_CA_FILE",
      "--cert-file FILE",
      "--key-file FILE",
      "https://host:port",
    ]) {
      expect(help.out, needle).toContain(needle);
    }
  });
});

describe("stowd against a mutual TLS daemon", () => {
  it("--cert-file + --key-file present the client certificate; without them the handshake is refused", async () => {
    const tlsEnv = { STOWD_CA_FILE: certs.serverCa };
    const put = await runStowd(["put", "-", "mem://b/mtls.txt", "--cert-file", certs.clientCert, "--key-file", certs.clientKey], {
      address: mutual.grpcAddress,
      env: tlsEnv,
      stdin: "client certificate",
    });
    expect(put).toMatchObject({ code: 0, stderr: "" });
    const cat = await runStowd(["cat", "mem://b/mtls.txt"], {
      address: mutual.grpcAddress,
      env: { ...tlsEnv, STOWD_CERT_FILE: certs.clientCert, STOWD_KEY_FILE: certs.clientKey },
    });
    expect(cat).toMatchObject({ code: 0, out: "client certificate" });
    const without = await runStowd(["cat", "mem://b/mtls.txt"], { address: mutual.grpcAddress, env: tlsEnv });
    expect(without.code).not.toBe(0);
    expect(without.out).toBe("");
  });
});
