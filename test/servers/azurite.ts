// Starts azurite's blob service (the devDependency, from node_modules) on a
// free loopback port for tests, with nothing on disk and no telemetry
// (without --disableTelemetry azurite tries to reach the internet), waits
// until it answers, and creates a test container. stop() kills it; a process
// 'exit' hook kills it too when a test run dies before its afterAll.
import { existsSync } from "node:fs";
import path from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { startChild } from "../helpers/child-process.js";
import { REPO_ROOT } from "../helpers/repo-root.js";

/** azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface Azurite {
  /** Blob service URL including the account, e.g. http://127.0.0.1:41234/devstoreaccount1. */
  blobUrl: string;
  account: string;
  key: string;
  /** A container created for the tests. */
  container: string;
  /** A service client with the account key, for tests that look behind the store. */
  service: BlobServiceClient;
  stop(): Promise<void>;
}

export interface StartAzuriteOptions {
  /** Name of the container to create; default "stowd-test". */
  container?: string;
  /** How long to wait for azurite to listen; default 20 s. */
  startTimeoutMs?: number;
  /** In-memory extent limit in MB; default 1024. Azurite frees deleted blobs only every 10 minutes. */
  extentMemoryLimitMb?: number;
}

const azuriteMain = path.join(REPO_ROOT, "node_modules", "azurite", "dist", "src", "blob", "main.js");

export async function startAzurite(options: StartAzuriteOptions = {}): Promise<Azurite> {
  if (!existsSync(azuriteMain)) {
    throw new Error(`azurite is not installed (${azuriteMain} is missing); run \`npm ci\` in ${REPO_ROOT} to install the devDependencies`);
  }
  // Port 0: azurite binds a free port and prints it, so there is no race for a port.
  const child = startChild(
    process.execPath,
    [
      azuriteMain,
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      "0",
      "--inMemoryPersistence",
      "--extentMemoryLimit",
      String(options.extentMemoryLimitMb ?? 1024),
      "--disableTelemetry",
      "--skipApiVersionCheck",
      "--silent",
    ],
    // Its output is read here, whole, for the "listens on" line.
    { stdio: ["ignore", "pipe", "pipe"], keepStderrLines: 0 },
  );
  const stop = () => child.stop(3000);

  try {
    const blobHost = await new Promise<string>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(
        () => reject(new Error(`azurite did not start within ${options.startTimeoutMs ?? 20_000} ms; output:\n${output}`)),
        options.startTimeoutMs ?? 20_000,
      );
      const onData = (data: Buffer) => {
        output += data.toString();
        const match = /listens on (https?:\/\/[^\s]+)/.exec(output);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      child.proc.stdout?.on("data", onData);
      child.proc.stderr?.on("data", onData);
      child.proc.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`azurite exited early (code ${code}, signal ${signal}); output:\n${output}`));
      });
    });
    const blobUrl = `${blobHost}/${AZURITE_ACCOUNT}`;
    const service = new BlobServiceClient(blobUrl, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY), {
      retryOptions: { maxTries: 1 },
    });
    const container = options.container ?? "stowd-test";
    // Creating the container is also the readiness check: it answers only once the service is up.
    for (let attempt = 0; ; attempt++) {
      try {
        await service.getContainerClient(container).createIfNotExists();
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    return { blobUrl, account: AZURITE_ACCOUNT, key: AZURITE_KEY, container, service, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
