// Every client command end to end: the CLI as a child process against a real
// daemon on free loopback ports — outputs, --json shapes and exit codes.
import { crc32c } from "@node-rs/crc32";
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStowdClient, type StowdClient } from "../../client/index.js";
import { startChild } from "../helpers/child-process.js";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";
import { runStowd, STOWD_COMMAND, type RunOptions } from "./stowd-process.js";

let daemon: TestDaemon;
let client: StowdClient;
let dir: string;

beforeAll(async () => {
  daemon = await startTestDaemon();
  client = createStowdClient({ baseUrl: daemon.grpcUrl, timeoutMs: 30_000 });
  dir = await mkdtemp(join(tmpdir(), "stowd-cli-"));
});

afterAll(async () => {
  client?.close();
  await daemon?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI against the test daemon (through STOWD_ADDRESS, as host:port). */
function stowd(args: string[], options: RunOptions = {}) {
  return runStowd(args, { address: daemon.grpcAddress, ...options });
}

function fresh(base: string): string {
  return `${base}/${randomUUID()}/`;
}

async function localFile(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");

describe("put, stat, cat", () => {
  it("uploads a file with content type and metadata, stats it and prints it", async () => {
    const prefix = fresh("mem://cli");
    const path = await localFile("hello.txt", "hello from the CLI\n");
    const put = await stowd(["put", "--content-type", "text/plain", "--metadata", "owner=ops", "--metadata", "run=42", path, prefix]);
    expect(put).toMatchObject({ code: 0, out: "", stderr: "" }); // quiet: no terminal here
    const ref = `${prefix}hello.txt`; // a REF ending with "/" gets the file's name

    const stat = await stowd(["stat", ref]);
    expect(stat.code).toBe(0);
    expect(stat.out).toMatch(new RegExp(`^reference +${ref.replace(/[/.]/g, "\\$&")}$`, "m"));
    expect(stat.out).toMatch(/^size +19 \(19 B\)$/m);
    expect(stat.out).toMatch(/^content-type +text\/plain$/m);
    expect(stat.out).toMatch(/^metadata owner +ops$/m);

    const json = await stowd(["stat", "--json", ref]);
    expect(json.code).toBe(0);
    const [info] = json.json() as [Record<string, unknown>];
    expect(info).toEqual({
      reference: ref,
      size: 19,
      etag: expect.any(String) as unknown,
      md5: expect.stringMatching(/^([0-9a-f]{32})?$/) as unknown, // the memory store keeps an MD5 only when the writer sends one
      crc32c: crc32c(Buffer.from("hello from the CLI\n")).toString(16).padStart(8, "0"), // sent by the CLI, kept by every store
      contentType: "text/plain",
      metadata: { owner: "ops", run: "42" },
      updateTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/) as unknown,
      generation: expect.any(String) as unknown,
    });
    expect(info.etag).not.toBe("");

    const cat = await stowd(["cat", ref]);
    expect(cat).toMatchObject({ code: 0, out: "hello from the CLI\n", stderr: "" });
  });

  it("put --json prints the stored object; put - reads stdin", async () => {
    const ref = `${fresh("file://cli")}from-stdin.txt`;
    const put = await stowd(["--json", "put", "-", ref], { stdin: "piped in\n" });
    expect(put.code).toBe(0);
    expect(put.json()).toEqual([
      { source: "-", destination: ref, bytes: 9, object: expect.objectContaining({ reference: ref, size: 9 }) as unknown },
    ]);
    expect(text(await client.readBytes(ref))).toBe("piped in\n");
    // A path that is a named pipe, not a regular file: no size to declare, streamed all the same.
    const fifo = join(dir, "named-pipe");
    await promisify(execFile)("mkfifo", [fifo]);
    const [fromFifo] = await Promise.all([stowd(["put", fifo, `${ref}.2`]), writeFile(fifo, "through a named pipe\n")]);
    expect(fromFifo).toMatchObject({ code: 0, stderr: "" });
    expect(text(await client.readBytes(`${ref}.2`))).toBe("through a named pipe\n");
  });

  it("cat reads byte ranges and concatenates several objects", async () => {
    const prefix = fresh("mem://cli");
    await client.write(`${prefix}a`, "0123456789");
    await client.write(`${prefix}b`, "abcdefghij");
    expect((await stowd(["cat", "--offset", "2", "--length", "3", `${prefix}a`])).out).toBe("234");
    expect((await stowd(["cat", "--offset", "7", `${prefix}a`])).out).toBe("789");
    expect((await stowd(["cat", "--tail", "4", `${prefix}a`, `${prefix}b`])).out).toBe("6789ghij");
    expect((await stowd(["cat", `${prefix}a`, `${prefix}b`])).out).toBe("0123456789abcdefghij");
    const both = await stowd(["cat", "--tail", "1", "--offset", "1", `${prefix}a`]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--tail excludes --offset and --length");
  });

  it("a missing object exits 3 for stat, cat and get, and get leaves no file behind", async () => {
    const ref = `${fresh("file://cli")}missing.bin`;
    const stat = await stowd(["stat", ref]);
    expect(stat).toMatchObject({ code: 3, out: "" });
    expect(stat.stderr).toBe(`stowd stat: ${ref} does not exist\n`);
    expect((await stowd(["cat", ref])).code).toBe(3);
    const target = await mkdtemp(join(dir, "get-missing-"));
    const get = await stowd(["get", ref, join(target, "out.bin")]);
    expect(get.code).toBe(3);
    expect(get.stderr).toContain("does not exist");
    expect(await readdir(target)).toEqual([]);
  });

  it("--json errors are one JSON line on stderr with code, reason and the exit code", async () => {
    const ref = `${fresh("mem://cli")}nope`;
    const cat = await stowd(["--json", "cat", ref]);
    expect(cat.code).toBe(3);
    expect(JSON.parse(cat.stderr)).toEqual({
      error: { code: "NOT_FOUND", reason: "NOT_FOUND", message: expect.stringContaining(ref) as unknown, reference: ref },
      exitCode: 3,
    });
  });
});

describe("get", () => {
  it("downloads into a file, into a directory, to the key's name in the cwd, and to stdout", async () => {
    const ref = `${fresh("file://cli")}data/report.csv`;
    const data = randomBytes(3 * 1024 * 1024 + 17); // several 1 MiB messages
    await client.write(ref, data);
    const target = await mkdtemp(join(dir, "get-"));

    const named = await stowd(["get", ref, join(target, "named.csv")]);
    expect(named).toMatchObject({ code: 0, out: "", stderr: "" });
    expect((await readFile(join(target, "named.csv"))).equals(data)).toBe(true);

    const intoDir = await stowd(["--json", "get", ref, target]);
    expect(intoDir.json()).toEqual([
      {
        source: ref,
        destination: join(target, "report.csv"),
        bytes: data.length,
        object: expect.objectContaining({ size: data.length }) as unknown,
      },
    ]);
    expect((await readFile(join(target, "report.csv"))).equals(data)).toBe(true);

    const cwd = await mkdtemp(join(dir, "cwd-"));
    expect((await stowd(["get", ref], { cwd })).code).toBe(0);
    expect(await readdir(cwd)).toEqual(["report.csv"]); // and no temp file left
    expect((await readFile(join(cwd, "report.csv"))).equals(data)).toBe(true);

    const toStdout = await stowd(["get", ref, "-"]);
    expect(toStdout.code).toBe(0);
    expect(toStdout.stdout.equals(data)).toBe(true);
  });

  it("a destination directory that does not exist exits 3 naming it", async () => {
    const ref = `${fresh("mem://cli")}x`;
    await client.write(ref, "x");
    const result = await stowd(["get", ref, join(dir, "no-such-dir", "x")]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(join(dir, "no-such-dir"));
  });
});

describe("cp", () => {
  it("copies remote -> remote across schemes with CopyRaw, naming a destination that ends with /", async () => {
    const source = `${fresh("mem://cli")}src.bin`;
    await client.write(source, "copied by the daemon", { contentType: "application/x-test", metadata: { k: "v" } });
    const destination = fresh("file://cli");
    const cp = await stowd(["--json", "cp", source, destination]);
    expect(cp.code).toBe(0);
    const [result] = cp.json() as [Record<string, unknown>];
    expect(result).toEqual({
      source,
      destination: `${destination}src.bin`,
      bytes: 20,
      object: expect.objectContaining({
        reference: `${destination}src.bin`,
        contentType: "application/x-test",
        metadata: { k: "v" },
      }) as unknown,
    });
    expect(text(await client.readBytes(`${destination}src.bin`))).toBe("copied by the daemon");
  });

  it("uploads and downloads like put and get", async () => {
    const path = await localFile("cp-up.bin", randomBytes(100_000));
    const ref = `${fresh("file://cli")}cp-up.bin`;
    expect((await stowd(["cp", path, ref])).code).toBe(0);
    expect(Buffer.from(await client.readBytes(ref)).equals(await readFile(path))).toBe(true);
    const back = join(dir, "cp-down.bin");
    expect((await stowd(["cp", ref, back])).code).toBe(0);
    expect((await readFile(back)).equals(await readFile(path))).toBe(true);
  });

  it("-n refuses to replace an existing object (exit 5); --if-match with a stale etag exits 5", async () => {
    const ref = `${fresh("mem://cli")}guarded`;
    const first = await client.write(ref, "first");
    const path = await localFile("second.txt", "second");
    const clobber = await stowd(["put", "-n", path, ref]);
    expect(clobber.code).toBe(5);
    expect(clobber.stderr).toMatch(/^stowd put: .*exists/);
    const copy = await stowd(["cp", "--if-not-exists", ref, ref]);
    expect(copy.code).toBe(5);
    const stale = await stowd(["put", "--if-match", "not-the-etag", path, ref]);
    expect(stale.code).toBe(5);
    expect(text(await client.readBytes(ref))).toBe("first");
    expect((await stowd(["put", "--if-match", first.etag, path, ref])).code).toBe(0);
    expect(text(await client.readBytes(ref))).toBe("second");
  });

  it("a missing local source exits 3, a local -> local copy or an upload flag on a download exits 2", async () => {
    const ref = `${fresh("mem://cli")}x`;
    const missing = await stowd(["put", join(dir, "does-not-exist.txt"), ref]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain(`local file ${join(dir, "does-not-exist.txt")} does not exist`);
    const local = await stowd(["cp", join(dir, "a"), join(dir, "b")]);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain("must be a stowd reference");
    await client.write(ref, "x");
    expect((await stowd(["cp", "--content-type", "text/plain", ref, join(dir, "x")])).code).toBe(2);
    expect((await stowd(["put", dir, ref])).code).toBe(2); // a directory
  });
});

describe("ls", () => {
  it("rolls keys up at / by default, -r lists everything, across pages", async () => {
    const prefix = fresh("mem://cli");
    for (const key of ["a.txt", "b.txt", "c.txt", "dir1/x", "dir1/y", "dir2/z"]) await client.write(`${prefix}${key}`, key);

    const shallow = await stowd(["ls", "--page-size", "2", prefix]);
    expect(shallow.code).toBe(0);
    const lines = shallow.out.trimEnd().split("\n");
    expect(lines).toHaveLength(5);
    expect(lines.filter((l) => /^ +PRE +mem:\/\//.test(l)).map((l) => l.trim().split(/ +/)[1])).toEqual([
      `${prefix}dir1/`,
      `${prefix}dir2/`,
    ]);
    expect(lines.find((l) => l.endsWith(`${prefix}a.txt`))).toMatch(/^ +5 +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +mem:\/\//);

    const deep = await stowd(["--json", "ls", "-r", "--page-size", "4", prefix]);
    expect(deep.code).toBe(0);
    const entries = deep.json() as { kind: string; reference: string; size?: number }[];
    expect(entries.map((e) => e.reference).sort()).toEqual(
      ["a.txt", "b.txt", "c.txt", "dir1/x", "dir1/y", "dir2/z"].map((k) => `${prefix}${k}`),
    );
    expect(entries.every((e) => e.kind === "object")).toBe(true);
    expect(entries.find((e) => e.reference.endsWith("dir1/x"))).toMatchObject({
      size: 6,
      md5: expect.any(String) as unknown,
      metadata: {},
    });

    const json = await stowd(["ls", "--json", prefix]);
    expect(json.json()).toContainEqual({ kind: "prefix", reference: `${prefix}dir2/` });
    const delimited = await stowd(["ls", "--json", "--delimiter", ".", prefix]);
    expect(delimited.json()).toContainEqual({ kind: "prefix", reference: `${prefix}a.` });
  });

  it("an empty prefix prints nothing and exits 0", async () => {
    expect(await stowd(["ls", fresh("mem://cli")])).toMatchObject({ code: 0, out: "", stderr: "" });
  });
});

describe("rm", () => {
  it("deletes objects; a missing one exits 3 unless -f", async () => {
    const prefix = fresh("mem://cli");
    await client.write(`${prefix}a`, "a");
    await client.write(`${prefix}b`, "b");
    const removed = await stowd(["--json", "rm", `${prefix}a`, `${prefix}b`]);
    expect(removed.code).toBe(0);
    expect(removed.json()).toEqual([{ deleted: `${prefix}a` }, { deleted: `${prefix}b` }]);
    expect(await client.head(`${prefix}a`)).toBeUndefined();
    const again = await stowd(["rm", `${prefix}a`]);
    expect(again.code).toBe(3);
    expect((await stowd(["rm", "-f", `${prefix}a`])).code).toBe(0);
  });

  it("-r deletes under a prefix ending with /, --prefix matches partial keys, -r without / exits 2", async () => {
    const prefix = fresh("file://cli");
    for (const key of ["run1/a", "run1/b/c", "run10/a", "run2/a"]) await client.write(`${prefix}${key}`, key);
    const bare = await stowd(["rm", "-r", `${prefix}run1`]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('ending with "/"');

    const recursive = await stowd(["rm", "-r", `${prefix}run1/`]);
    expect(recursive).toMatchObject({ code: 0, out: `deleted 2 objects under ${prefix}run1/\n` });
    expect(await client.head(`${prefix}run10/a`)).toBeDefined();

    const partial = await stowd(["--json", "rm", "--prefix", `${prefix}run`]);
    expect(partial.json()).toEqual([{ prefix: `${prefix}run`, deletedCount: 2 }]);
    expect((await stowd(["ls", "-r", prefix])).out).toBe("");
  });
});

describe("info", () => {
  it("shows version, limits and every scheme's backend and capabilities", async () => {
    const human = await stowd(["info"]);
    expect(human.code).toBe(0);
    expect(human.out).toContain(`at http://${daemon.grpcAddress}`);
    expect(human.out).toMatch(/^limits: download unlimited, upload unlimited, message 16\.0 MiB$/m);
    expect(human.out).toMatch(/^mem:\/\/ +memory +- +ranged-reads append/m);
    expect(human.out).toMatch(/^file:\/\/ +local +/m);
    expect(human.out).toMatch(/^auth: off \(every caller may do everything\)$/m);

    const json = await stowd(["info", "--json"]);
    const [info] = json.json() as [
      {
        version: string;
        limits: unknown;
        backends: { scheme: string; kind: string; capabilities: Record<string, boolean> }[];
        caller: unknown;
      },
    ];
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.limits).toEqual({ maxDownloadBytes: 0, maxUploadBytes: 0, maxMessageBytes: 16 * 1024 * 1024 });
    expect(info.backends.map((b) => b.scheme).sort()).toEqual(["file", "mem"]);
    expect(info.caller).toEqual({ authEnabled: false, name: "", grants: [] });
    expect(info.backends.find((b) => b.scheme === "mem")?.capabilities).toEqual({
      rangedReads: true,
      append: true,
      conditionalWrites: true,
      signedUrls: false,
      delimiterListing: true,
      serverSideCopy: true,
    });
  });
});

describe("addresses and flags", () => {
  it("--address overrides STOWD_ADDRESS and takes a URL", async () => {
    const result = await runStowd(["--address", daemon.grpcUrl, "info", "--json"], { address: "127.0.0.1:1" });
    expect(result.code).toBe(0);
    expect((result.json()[0] as { address: string }).address).toBe(daemon.grpcUrl);
  });

  it("a daemon that is not there exits 1 and says how to name it", async () => {
    const result = await runStowd(["ls", "mem://b/"], { address: "127.0.0.1:1" });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^stowd ls: cannot reach the daemon at http:\/\/127\.0\.0\.1:1: .*--address or STOWD_ADDRESS/);
  });

  it("bad flags, values and argument counts exit 2 and point at --help", async () => {
    for (const args of [
      ["ls", "--bogus", "mem://b/"],
      ["ls"],
      ["stat", "a", "b"],
      ["ls", "not-a-reference"],
      ["--timeout", "soon", "ls", "mem://b/"],
      ["--address", "127.0.0.1", "ls", "mem://b/"],
      ["ls", "--page-size", "-1", "mem://b/"],
    ]) {
      const result = await stowd(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(/^stowd ls|^stowd stat/);
      expect(result.stderr, args.join(" ")).toContain("--help lists the options");
    }
  });

  it("--timeout bounds each call", async () => {
    const result = await stowd(["--timeout", "1ms", "put", "-", `${fresh("mem://cli")}slow`], { stdin: randomBytes(8 * 1024 * 1024) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("--timeout sets the deadline");
  });
});

describe("Ctrl-C", () => {
  it("cancels a running upload: exit 130, and the daemon's call ends", async () => {
    const ref = `${fresh("mem://cli")}interrupted`;
    const [program = "", ...args] = STOWD_COMMAND;
    const cli = startChild(program, [...args, "--address", daemon.grpcAddress, "put", "-", ref], {
      stdio: ["pipe", "ignore", "pipe"],
      keepStderrLines: 0,
    });
    const { stdin, stderr: errors } = cli.proc;
    let stderr = "";
    errors?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    stdin?.write(randomBytes(64 * 1024)); // stdin stays open: the upload waits for more
    // Interrupt only once the daemon has the WriteRaw call open.
    const writesInFlight = async () => {
      const metric = await daemon.metrics.rpcInFlight.get();
      return metric.values.find((v) => v.labels.grpc_method === "WriteRaw")?.value ?? 0;
    };
    for (const deadline = Date.now() + 20_000; (await writesInFlight()) === 0 && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await writesInFlight()).toBeGreaterThan(0);
    cli.signal("SIGINT");
    expect(await cli.exited).toBe(130);
    expect(stderr).toBe("stowd put: interrupted\n");
    stdin?.destroy();
    // The CLI cancelled the call (RST_STREAM CANCEL) rather than leaving it open.
    for (const deadline = Date.now() + 10_000; (await writesInFlight()) > 0 && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await writesInFlight()).toBe(0);
  });
});
