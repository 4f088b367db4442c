// `stowd info`: GetServerInfo — version, limits, each scheme's backend and
// capabilities, and who the daemon takes the caller for.
import type { CallerInfo } from "../../client/index.js";
import type { Command } from "../command.js";
import { formatBytes, table } from "../format.js";

const capabilityNames = {
  rangedReads: "ranged-reads",
  append: "append",
  conditionalWrites: "conditional-writes",
  signedUrls: "signed-urls",
  delimiterListing: "delimiter-listing",
  serverSideCopy: "server-side-copy",
} as const;

export const info: Command = {
  name: "info",
  summary: "show the daemon's version, limits, backends and what you may do",
  synopsis: "stowd info [options]",
  description: `Asks the daemon what it serves (GetServerInfo): its version, its limits (0 =
unlimited), per configured scheme the backend and what it can do, and, when the daemon
checks callers, your name in its token file and your grants. With --json:
  {"address":...,"version":...,"limits":{"maxDownloadBytes":N,"maxUploadBytes":N,
   "maxMessageBytes":N},"backends":[{"scheme":...,"kind":...,"baseContainerReference":...,
   "capabilities":{"rangedReads":B,"append":B,"conditionalWrites":B,"signedUrls":B,
   "delimiterListing":B,"serverSideCopy":B}}],"caller":{"authEnabled":B,"name":...,
   "grants":[{"operations":[...],"prefixes":[...]}]}}`,
  flags: {},
  flagHelp: [],
  examples: ["stowd info", "stowd --address 10.0.0.5:50051 info", "stowd info --json | jq -r '.backends[].scheme'"],
  positionals: { min: 0, max: 0 },
  async run(context) {
    const { version, limits, backends, caller } = await context.client().serverInfo({ signal: context.signal });
    const limit = (bytes: number) => (bytes === 0 ? "unlimited" : formatBytes(bytes));
    const rows = [
      ["scheme", "backend", "container", "capabilities"],
      ...backends.map((b) => [
        `${b.scheme}://`,
        b.kind,
        b.baseContainerReference || "-",
        Object.entries(b.capabilities)
          .filter(([, on]) => on)
          .map(([name]) => capabilityNames[name as keyof typeof capabilityNames])
          .join(" ") || "-",
      ]),
    ];
    const human = [
      `stowd ${version} at ${context.address}`,
      `limits: download ${limit(limits.maxDownloadBytes)}, upload ${limit(limits.maxUploadBytes)}, message ${limit(limits.maxMessageBytes)}`,
      "",
      table(rows),
      "",
      ...callerLines(caller),
    ].join("\n");
    context.out.result({ address: context.address, version, limits, backends, caller }, human);
  },
};

function callerLines(caller: CallerInfo): string[] {
  if (!caller.authEnabled) return ["auth: off (every caller may do everything)"];
  return [`you: ${caller.name}`, ...caller.grants.map((g) => `  may ${g.operations.join(", ")} on ${g.prefixes.join(" ")}`)];
}
