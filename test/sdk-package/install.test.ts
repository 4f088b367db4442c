// The SDK as another project gets it: `npm pack` in client/, the tarball
// installed with plain `npm install` (from the npm registry, with TypeScript
// and @types/node) into a fresh project under the OS temp directory, where
// neither this checkout's node_modules nor tsx can be reached. A consumer
// file is type-checked and compiled by that project's tsc and run by plain
// node against a real daemon: write, read back, head, list, delete.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { REPO_ROOT } from "../helpers/repo-root.js";

const run = promisify(execFile);

// npm install from the registry takes a while here; packing builds the SDK with tsc.
const SLOW_MS = 300_000;

/** This process's environment without npm's per-run settings, so the child npm sees only its own project. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_")));
  return { ...env, ...extra };
}

const CONSUMER = `
import { Code, createStowdClient, StowdClientError, type ObjectInfo } from "@stowd/client";
import { ObjectInfoSchema } from "@stowd/client/proto";

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error("mismatch: " + what);
}

const baseUrl = process.env.STOWD_URL;
if (baseUrl === undefined) throw new Error("set STOWD_URL to the daemon's gRPC address");
const stowd = createStowdClient({ baseUrl, timeoutMs: 30_000 });
const prefix = "mem://consumer/" + String(Date.now()) + "/";
const ref = prefix + "hello.txt";
const text = "hello from a fresh project\\n";
try {
  const written: ObjectInfo = await stowd.write(ref, text, { contentType: "text/plain" });
  check(written.reference === ref, "write returned reference " + written.reference);
  check(written.size === text.length, "write returned size " + String(written.size));
  check(written.etag !== "", "write returned an empty etag");

  const bytes = await stowd.readBytes(ref);
  check(new TextDecoder().decode(bytes) === text, "readBytes returned " + JSON.stringify(new TextDecoder().decode(bytes)));
  const streamed = Buffer.concat(await stowd.readStream(ref).toArray()).toString();
  check(streamed === text, "readStream returned " + JSON.stringify(streamed));

  const head = await stowd.head(ref);
  check(head !== undefined, "head found nothing");
  if (head === undefined) throw new Error("unreachable");
  check(head.size === text.length && head.etag === written.etag, "head returned " + JSON.stringify(head));
  check(head.contentType === "text/plain", "head returned content type " + head.contentType);
  check(head.updateTime instanceof Date, "head's updateTime is not a Date");
  const json = JSON.parse(JSON.stringify(head)) as { size: unknown };
  check(json.size === text.length, "head does not survive JSON: " + JSON.stringify(json));

  const listed: string[] = [];
  for await (const entry of stowd.list(prefix)) {
    if (entry.kind === "object") listed.push(entry.info.reference + " " + String(entry.info.size));
  }
  check(JSON.stringify(listed) === JSON.stringify([ref + " " + String(text.length)]), "list returned " + JSON.stringify(listed));

  await stowd.delete(ref);
  check((await stowd.head(ref)) === undefined, "head found the object after delete");
  const missing = await stowd.readBytes(ref).then(
    () => undefined,
    (e: unknown) => e,
  );
  check(missing instanceof StowdClientError && missing.code === Code.NotFound, "read after delete gave " + String(missing));

  check(ObjectInfoSchema.typeName === "stowd.v1.ObjectInfo", "the proto entry point's ObjectInfoSchema is " + ObjectInfoSchema.typeName);
  console.log("consumer: all checks passed");
} finally {
  stowd.close();
}
`;

// Proof that the types are real: the compiler must reject the old bigint view of a size.
const MISTYPED = `
import { createStowdClient } from "@stowd/client";
const info = await createStowdClient().write("mem://b/k", "x");
const size: bigint = info.size;
console.log(size);
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    // Library declarations are checked too; connect's name the DOM's HeadersInit, hence "DOM".
    skipLibCheck: false,
    lib: ["ES2023", "DOM"],
    types: ["node"],
    rootDir: "src",
    outDir: "out",
  },
  include: ["src"],
};

let daemon: TestDaemon;
let project = "";
let packDir = "";

beforeAll(async () => {
  daemon = await startTestDaemon();
  project = await mkdtemp(join(tmpdir(), "stowd-sdk-consumer-"));
  packDir = await mkdtemp(join(tmpdir(), "stowd-sdk-pack-"));
});

afterAll(async () => {
  await daemon?.close();
  // npm pack built client/dist: build output, removed so the checkout is left as it was.
  await rm(join(REPO_ROOT, "client", "dist"), { recursive: true, force: true });
  await rm(project, { recursive: true, force: true });
  await rm(packDir, { recursive: true, force: true });
});

describe("the packed SDK in a fresh project", () => {
  it(
    "installs with plain npm, type-checks with tsc and round-trips under plain node",
    async () => {
      // npm pack runs the package's prepack script: the tsc build into client/dist.
      await run("npm", ["pack", "--pack-destination", packDir], { cwd: join(REPO_ROOT, "client"), env: cleanEnv() });
      const tarballs = (await readdir(packDir)).filter((name) => name.endsWith(".tgz"));
      expect(tarballs).toEqual(["stowd-client-0.1.0.tgz"]);
      const tarball = join(packDir, tarballs[0] ?? "");
      const listing = await run("tar", ["-tzf", tarball]);
      const packed = listing.stdout.trim().split("\n");
      expect(packed).toContain("package/dist/client/index.js");
      expect(packed).toContain("package/dist/client/index.d.ts");
      expect(packed).toContain("package/dist/client/browser.js");
      expect(packed).toContain("package/dist/gen/stowd/v1/raw_store_pb.js");
      expect(packed.filter((path) => !path.startsWith("package/dist/")).sort()).toEqual(["package/README.md", "package/package.json"]);

      await writeFile(join(project, "package.json"), JSON.stringify({ name: "stowd-consumer", private: true, type: "module" }));
      await writeFile(join(project, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));
      await mkdir(join(project, "src"));
      await writeFile(join(project, "src", "consumer.ts"), CONSUMER);
      await run("npm", ["install", "--no-audit", "--no-fund", tarball, "typescript@5.9.3", "@types/node@20"], {
        cwd: project,
        env: cleanEnv(),
      });
      // The SDK's dependencies and nothing of the daemon (S3, Azure, GCS, Redis, grpc-js, tsx).
      const installed = await readdir(join(project, "node_modules"));
      for (const daemonOnly of ["@aws-sdk", "@azure", "@google-cloud", "ioredis", "@grpc", "tsx", "pino"]) {
        expect(installed, `${daemonOnly} was installed`).not.toContain(daemonOnly);
      }

      const tsc = join(project, "node_modules", "typescript", "bin", "tsc");
      const compiled = await run(process.execPath, [tsc, "-p", "."], { cwd: project }).catch((e: Error & { stdout?: string }) => {
        throw new Error(`tsc rejected the consumer:\n${e.stdout ?? e.message}`);
      });
      expect(compiled.stdout).toBe("");

      const ran = await run(process.execPath, [join(project, "out", "consumer.js")], {
        cwd: project,
        env: cleanEnv({ STOWD_URL: daemon.grpcUrl }),
      });
      expect(ran.stdout.trim()).toBe("consumer: all checks passed");

      await writeFile(join(project, "src", "mistyped.ts"), MISTYPED);
      const mistyped = await run(process.execPath, [tsc, "-p", ".", "--noEmit"], { cwd: project }).then(
        () => "",
        (e: { stdout?: string }) => e.stdout ?? "",
      );
      expect(mistyped).toMatch(/mistyped\.ts\(4,7\): error TS2322: Type 'number' is not assignable to type 'bigint'/);
    },
    SLOW_MS,
  );
});
