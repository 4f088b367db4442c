// `npm run build`: the production build the Dockerfile copies. Compiles the
// daemon, the SDK, the CLI and gen/ with tsconfig.build.json into dist/
// (or --out-dir DIR), keeping the source layout (dist/server/main.js,
// dist/cli/main.js), then writes DIR/package.json: the built code reads
// `../package.json` relative to itself for the version (server/daemon.ts,
// cli/version.ts), which from dist/server/ and dist/cli/ is that file, and
// its "type": "module" keeps DIR runnable as ESM wherever it is copied.
// node_modules is not part of it: install it beside DIR (npm ci --omit=dev).
// The web console's bundle goes to DIR/console/dist/, where the built daemon
// (DIR/server/console/console-route.js) looks for it.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const at = args.indexOf("--out-dir");
const outDir = resolve(at >= 0 && args[at + 1] !== undefined ? args[at + 1] : join(root, "dist"));

rmSync(outDir, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", outDir], { stdio: "inherit" });

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const built = { name: pkg.name, version: pkg.version, private: true, type: "module", engines: pkg.engines };
writeFileSync(join(outDir, "package.json"), `${JSON.stringify(built, null, 2)}\n`);

execFileSync(process.execPath, [join(root, "scripts/build-console.mjs"), "--out-dir", join(outDir, "console/dist")], { stdio: "inherit" });
