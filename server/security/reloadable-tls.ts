// TLS for both listeners from PEM files (server.tls), re-read on reload
// (SIGHUP). A reload swaps the secure context for new handshakes only:
// connections and streams already open keep the certificate they started
// with. Files that fail to load or do not fit together are refused as a
// whole, so a half-written rotation never replaces a working certificate.
import { readFile } from "node:fs/promises";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { TlsConfig } from "../config/config.js";
import { ConfigError } from "../config/config-error.js";

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** The client CA (mutual TLS), if configured. */
  ca?: Buffer;
}

export interface ReloadableTls {
  readonly config: TlsConfig;
  /** Whether clients must present a certificate the client CA signed. */
  readonly mutual: boolean;
  /** The secure context options in force (cert, key, ca). */
  current(): SecureContextOptions;
  /** Calls `listener` with the new options after each successful reload. */
  onReload(listener: (options: SecureContextOptions) => void): void;
  /** grpc-js credentials that follow reloads. */
  grpcCredentials(): grpc.ServerCredentials;
  /** Re-reads the files; on failure throws ConfigError and keeps the old certificate. */
  reload(): Promise<void>;
}

async function readPem(file: string, path: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const reason = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new ConfigError([{ path, message: `cannot read ${JSON.stringify(file)} (${reason})` }], { cause: err });
  }
}

/** Reads the files and checks that they form a usable secure context (key matches certificate, PEM parses). */
export async function loadTlsMaterial(config: TlsConfig): Promise<TlsMaterial> {
  // Every unreadable file is reported, in the order of the keys (not whichever read failed first).
  const reads = await Promise.allSettled([
    readPem(config.certFile, "server.tls.certFile"),
    readPem(config.keyFile, "server.tls.keyFile"),
    config.clientCaFile === undefined ? undefined : readPem(config.clientCaFile, "server.tls.clientCaFile"),
  ]);
  const failed = reads.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (failed.length > 0) {
    const problems = failed.flatMap((err) => (err instanceof ConfigError ? err.problems : []));
    throw problems.length === failed.length ? new ConfigError(problems, { cause: failed[0] }) : failed[0];
  }
  const [cert, key, ca] = reads.map((r) => (r.status === "fulfilled" ? r.value : undefined)) as [Buffer, Buffer, Buffer | undefined];
  const material: TlsMaterial = { cert, key, ...(ca === undefined ? {} : { ca }) };
  try {
    createSecureContext(material);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ConfigError(
      [
        {
          path: "server.tls",
          message: `${config.certFile} + ${config.keyFile}${ca === undefined ? "" : ` + ${config.clientCaFile}`} do not make a TLS context (${message}); give a PEM certificate chain, its PEM private key and a PEM CA certificate`,
        },
      ],
      { cause: err },
    );
  }
  return material;
}

export async function createReloadableTls(config: TlsConfig): Promise<ReloadableTls> {
  let material = await loadTlsMaterial(config);
  const listeners: Array<(options: SecureContextOptions) => void> = [];

  // grpc-js takes certificates from a provider and calls setSecureContext on
  // its HTTP/2 server whenever the provider reports new ones. It subscribes
  // to the provider before it registers its server's watcher, so the first
  // report must come a tick later (as grpc-js's own file watcher's does) or
  // the server would never see it and drop every connection.
  const identityListeners = new Set<grpc.experimental.IdentityCertificateUpdateListener>();
  const caListeners = new Set<grpc.experimental.CaCertificateUpdateListener>();
  const provider: grpc.experimental.CertificateProvider = {
    addIdentityCertificateListener(l) {
      identityListeners.add(l);
      queueMicrotask(() => l({ certificate: material.cert, privateKey: material.key }));
    },
    removeIdentityCertificateListener: (l) => identityListeners.delete(l),
    addCaCertificateListener(l) {
      caListeners.add(l);
      queueMicrotask(() => {
        if (material.ca !== undefined) l({ caCertificate: material.ca });
      });
    },
    removeCaCertificateListener: (l) => caListeners.delete(l),
  };
  const mutual = material.ca !== undefined;
  // grpc-js's createCertificateProviderServerCredentials passes its first
  // argument on as the identity provider and its second as the CA provider
  // (whatever its parameter names say); ours serves both.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, mutual ? provider : null, mutual);

  return {
    config,
    mutual,
    current: () => ({ ...material }),
    onReload: (listener) => listeners.push(listener),
    grpcCredentials: () => credentials,
    async reload() {
      const next = await loadTlsMaterial(config);
      material = next;
      for (const l of identityListeners) l({ certificate: next.cert, privateKey: next.key });
      if (next.ca !== undefined) for (const l of caListeners) l({ caCertificate: next.ca });
      for (const l of listeners) l({ ...next });
    },
  };
}
