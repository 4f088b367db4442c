// Part of `npm run build`: writes dist/package.json. The built code reads
// `../package.json` relative to itself (server/daemon.ts and cli/version.ts,
// for the version), which from dist/server/ and dist/cli/ is this file; its
// "type": "module" also makes dist/ runnable as ESM wherever it is copied.
import { readFileSync, writeFileSync } from "node:fs";
import { URL } from "node:url";

const root = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const dist = { name: root.name, version: root.version, private: true, type: "module", engines: root.engines };
writeFileSync(new URL("../dist/package.json", import.meta.url), `${JSON.stringify(dist, null, 2)}\n`);
