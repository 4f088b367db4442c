// `stowd info`: GetServerInfo — version, limits, each scheme's backend and capabilities.
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
  summary: "show the daemon's version, limits and backends",
  synopsis: "stowd info [options]",
  description: `Asks the daemon what it serves (GetServerInfo): its version, its limits (0 =
unlimited) and, per configured scheme, the backend and what it can do. With --json:
  {"address":...,"version":...,"limits":{"maxDownloadBytes":N,"maxUploadBytes":N,
   "maxMessageBytes":N},"backends":[{"scheme":...,"kind":...,"baseContainerReference":...,
   "capabilities":{"rangedReads":B,"append":B,"conditionalWrites":B,"signedUrls":B,
   "delimiterListing":B,"serverSideCopy":B}}]}`,
  flags: {},
  flagHelp: [],
  examples: ["stowd info", "stowd --address 10.0.0.5:50051 info", "stowd info --json | jq -r '.backends[].scheme'"],
  positionals: { min: 0, max: 0 },
  async run(context) {
    const { version, limits, backends } = await context.client().serverInfo({ signal: context.signal });
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
    ].join("\n");
    context.out.result({ address: context.address, version, limits, backends }, human);
  },
};
