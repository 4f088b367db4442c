// Test certificates made with the openssl CLI in a temp directory: a server
// CA and two server certificates for 127.0.0.1 / localhost (to see a reload
// swap them), a client CA with a client certificate, and an unrelated CA with
// its own client certificate (the "wrong CA").
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";

export interface TestCerts {
  dir: string;
  serverCa: string;
  serverCert: string;
  serverKey: string;
  /** A second server certificate (same CA, different serial) for reload tests. */
  serverCert2: string;
  serverKey2: string;
  clientCa: string;
  /** CN=worker-a, SAN DNS:worker-a.internal, signed by clientCa. */
  clientCert: string;
  clientKey: string;
  /** CN=worker-b, signed by clientCa, named in no token file entry. */
  otherClientCert: string;
  otherClientKey: string;
  wrongCa: string;
  /** CN=worker-a, signed by wrongCa. */
  wrongClientCert: string;
  wrongClientKey: string;
  read(file: string): Buffer;
  fingerprint(file: string): string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string): void {
  openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
  );
}

function makeLeaf(dir: string, ca: string, name: string, cn: string, san: string, usage: string): void {
  openssl(
    dir,
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    `/CN=${cn}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
  );
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  );
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "stowd-certs-"));
  makeCa(dir, "server-ca");
  makeCa(dir, "client-ca");
  makeCa(dir, "wrong-ca");
  makeLeaf(dir, "server-ca", "server", "stowd-test", "IP:127.0.0.1,DNS:localhost", "serverAuth");
  makeLeaf(dir, "server-ca", "server2", "stowd-test", "IP:127.0.0.1,DNS:localhost", "serverAuth");
  makeLeaf(dir, "client-ca", "client", "worker-a", "DNS:worker-a.internal", "clientAuth");
  makeLeaf(dir, "client-ca", "other-client", "worker-b", "DNS:worker-b.internal", "clientAuth");
  makeLeaf(dir, "wrong-ca", "wrong-client", "worker-a", "DNS:worker-a.internal", "clientAuth");
  const p = (f: string) => join(dir, f);
  return {
    dir,
    serverCa: p("server-ca.crt"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    serverCert2: p("server2.crt"),
    serverKey2: p("server2.key"),
    clientCa: p("client-ca.crt"),
    clientCert: p("client.crt"),
    clientKey: p("client.key"),
    otherClientCert: p("other-client.crt"),
    otherClientKey: p("other-client.key"),
    wrongCa: p("wrong-ca.crt"),
    wrongClientCert: p("wrong-client.crt"),
    wrongClientKey: p("wrong-client.key"),
    read: (file) => readFileSync(file),
    fingerprint: (file) => new X509Certificate(readFileSync(file)).fingerprint256,
  };
}
