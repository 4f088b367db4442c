// What the results say about where and how they were measured: the machine,
// the versions of everything in the path, and the command that reproduces them.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { REPO } from "./repo.js";

export function machineInfo() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  let os = "Linux";
  try {
    os = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? os;
  } catch {
    // No os-release: keep "Linux".
  }
  return { cores: cpus().length, model, memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, kernel: release(), os };
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(REPO, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

function commandVersion(command: string, args: string[], pattern: RegExp): string {
  try {
    return pattern.exec(execFileSync(command, args, { encoding: "utf8", timeout: 10_000 }))?.[1] ?? "unknown";
  } catch {
    return "not installed";
  }
}

export function versions(withCloud: boolean): Record<string, string> {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" }).trim();
  } catch {
    // Not a git checkout.
  }
  return {
    stowd: `${(JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version} (${commit})`,
    node: process.version,
    "@grpc/grpc-js": packageVersion("@grpc/grpc-js"),
    "@connectrpc/connect-node": packageVersion("@connectrpc/connect-node"),
    ...(withCloud
      ? {
          "@aws-sdk/client-s3": packageVersion("@aws-sdk/client-s3"),
          "@azure/storage-blob": packageVersion("@azure/storage-blob"),
          azurite: packageVersion("azurite"),
          ceph: commandVersion("radosgw", ["--version"], /ceph version (\S+)/),
        }
      : {}),
  };
}

/** The command line that reproduces this run. */
export function invocation(argv: string[]): string {
  const args = argv.join(" ");
  return process.env.npm_lifecycle_event === "bench"
    ? `npm run bench${args === "" ? "" : ` -- ${args}`}`
    : `npx tsx bench/main.ts${args === "" ? "" : ` ${args}`}`;
}
