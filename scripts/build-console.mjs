// `npm run build:console` (and `npm ci`, through `prepare`): bundles the web
// console (console/src/main.tsx with Preact and the SDK's browser entry) with
// esbuild into console/dist/ (or --out-dir DIR), minified, the script and
// stylesheet named by a content hash so browsers may cache them for ever;
// index.html is copied with those names filled in. The daemon serves the
// result at /console/ (server/console/console-route.ts).
// A production install (`npm ci --omit=dev`) has no esbuild: then this says
// so and exits 0, since such an install runs a daemon built elsewhere.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const at = args.indexOf("--out-dir");
const outDir = resolve(at >= 0 && args[at + 1] !== undefined ? args[at + 1] : join(root, "console/dist"));

let esbuild;
try {
  esbuild = await import("esbuild");
} catch {
  process.stdout.write("build-console: esbuild is not installed (a production install?): the console is not built\n");
  process.exit(0);
}

// Built beside the target and moved into place, so a daemon starting meanwhile sees the old bundle or none, never half of one.
const building = `${outDir}.building-${process.pid}`;
rmSync(building, { recursive: true, force: true });
mkdirSync(building, { recursive: true });
// A failed build leaves nothing behind: the half-written directory is removed.
process.on("exit", () => rmSync(building, { recursive: true, force: true }));
const result = await esbuild.build({
  entryPoints: { app: join(root, "console/src/main.tsx"), styles: join(root, "console/styles.css") },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  legalComments: "linked",
  tsconfig: join(root, "console/tsconfig.json"),
  entryNames: "[name]-[hash]",
  outdir: building,
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
const named = (prefix, ext) => {
  const found = outputs.find((name) => name.startsWith(`${prefix}-`) && name.endsWith(ext));
  if (found === undefined) throw new Error(`build-console: esbuild wrote no ${prefix}-*${ext}`);
  return found;
};
const html = readFileSync(join(root, "console/index.html"), "utf8")
  .replace("/console/app.js", `/console/${named("app", ".js")}`)
  .replace("/console/styles.css", `/console/${named("styles", ".css")}`);
writeFileSync(join(building, "index.html"), html);
rmSync(outDir, { recursive: true, force: true });
renameSync(building, outDir);

const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
process.stdout.write(`build-console: ${outputs.length + 1} files, ${(bytes / 1024).toFixed(1)} KiB, in ${outDir}\n`);
