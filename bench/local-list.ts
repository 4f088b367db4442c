// `npm run bench:list` (tsx bench/local-list.ts): the cost of one List page
// on the local store over one flat directory of N files, at the first page
// and at a late one, so a page cost that grows with the pages already served
// shows. The files are empty and made with `fs` directly (no sidecars, as
// files placed by hand), in a temp directory; the store is called in-process
// (no RPC), so the figures are the store's own. Per size it reports: the
// time to create the files; the first page on a fresh store (the directory
// is read and sorted once); the first page and the page at 90% again
// (median of --runs); a full pass over every page (median and slowest page,
// mean of the first and the last tenth of the pages); and the longest the
// event loop was held during each measured phase. A benchmark, not a test:
// it fails only when a page is wrong. Never part of `npm test`.
//
//   npm run bench:list -- --sizes 10000,100000,1000000
//   npm run bench:list -- --store /path/to/other/local/index.ts   (compare an older version)
//   npm run bench:list -- --markdown BENCHMARKS.md                  (rewrite its local listing section)
import { closeSync, openSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { Ref } from "../server/references/reference.js";
import { encodePageToken } from "../server/stores/kit/list-pages.js";
import type { LocalStoreOptions } from "../server/stores/local/index.js";
import type { ListPage, RawStore } from "../server/stores/raw-store.js";
import { machineInfo } from "./harness/machine.js";
import { REPO } from "./harness/repo.js";
import { median } from "./harness/stats.js";
import { fmt, markdownTable, textTable, type Table } from "./report/format.js";

const usage = `usage: npm run bench:list -- [options]
  --sizes LIST        files in the flat directory, comma-separated (default 10000,100000,1000000)
  --page-size N       page size (default 1000)
  --runs N            repeats of the warm first and late page (default 3)
  --full-max N        full pass over every page only up to this many files (default 1000000)
  --store FILE        module exporting createLocalStore (default server/stores/local/index.ts)
  --markdown FILE     replace (or append) the local listing section of FILE with the results
  --help              show this text`;

const SECTION_START = "<!-- bench:list start -->";
const SECTION_END = "<!-- bench:list end -->";
/** The store trusts a cached listing only for a directory unchanged for a second; wait that long after creating the files. */
const SETTLE_MS = 1100;

interface SizeResult {
  files: number;
  createSeconds: number;
  coldFirstMs: number;
  coldFirstBlockMs: number;
  warmFirstMs: number[];
  lateMs: number[];
  lateBlockMs: number;
  full: {
    pages: number;
    medianMs: number;
    maxMs: number;
    firstTenthMs: number;
    lastTenthMs: number;
    totalSeconds: number;
    blockMs: number;
  } | null;
  heapMiB: number;
  removeSeconds: number;
}

const never = new AbortController().signal;

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: "string", default: "10000,100000,1000000" },
      "page-size": { type: "string", default: "1000" },
      runs: { type: "string", default: "3" },
      "full-max": { type: "string", default: "1000000" },
      store: { type: "string", default: path.join(REPO, "server", "stores", "local", "index.ts") },
      markdown: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  const int = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${JSON.stringify(text)}\n${usage}`);
    return n;
  };
  return {
    help: values.help,
    sizes: values.sizes.split(",").map((s) => int("sizes", s.trim())),
    pageSize: int("page-size", values["page-size"]),
    runs: int("runs", values.runs),
    fullMax: int("full-max", values["full-max"]),
    store: path.resolve(values.store),
    markdown: values.markdown,
  };
}

const nameOf = (i: number) => `obj-${String(i).padStart(7, "0")}`;

/** Runs `fn`, returning its result, its wall time and the longest the event loop was held meanwhile. */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; blockMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const started = performance.now();
  const value = await fn();
  const ms = performance.now() - started;
  histogram.disable();
  return { value, ms, blockMs: histogram.count > 0 ? histogram.max / 1e6 : 0 };
}

function checkPage(page: ListPage, firstIndex: number, pageSize: number, files: number): void {
  const expected = Math.min(pageSize, files - firstIndex);
  const wrong = page.objects.length !== expected || page.objects.some((o, i) => o.key !== nameOf(firstIndex + i));
  if (wrong)
    throw new Error(
      `page at ${firstIndex}: expected ${expected} objects from ${nameOf(firstIndex)}, got ${page.objects.length} from ${page.objects[0]?.key ?? "nothing"}`,
    );
}

async function runSize(
  createLocalStore: (options: LocalStoreOptions) => Promise<RawStore>,
  files: number,
  options: ReturnType<typeof parseOptions>,
  progress: (line: string) => void,
): Promise<SizeResult> {
  const root = await mkdtemp(path.join(tmpdir(), "stowd-bench-list-"));
  try {
    const dir = path.join(root, "bench");
    await mkdir(dir);
    progress(`creating ${fmt(files)} empty files in ${dir}`);
    let started = performance.now();
    for (let i = 0; i < files; i++) closeSync(openSync(path.join(dir, nameOf(i)), "w"));
    const createSeconds = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

    const store = await createLocalStore({ root });
    const prefix: Ref = { scheme: "file", container: "bench", authority: "bench", key: "" };
    const list = (pageToken: string) => store.list(prefix, { pageSize: options.pageSize, pageToken, delimiter: "" }, never);
    const lateIndex = Math.floor(files * 0.9);
    const lateToken = encodePageToken({ entry: nameOf(lateIndex - 1), isCommonPrefix: false });

    progress("first page on a fresh store");
    const cold = await measured(() => list(""));
    checkPage(cold.value, 0, options.pageSize, files);
    const warmFirstMs: number[] = [];
    const lateMs: number[] = [];
    let lateBlockMs = 0;
    for (let run = 0; run < options.runs; run++) {
      const first = await measured(() => list(""));
      checkPage(first.value, 0, options.pageSize, files);
      warmFirstMs.push(first.ms);
      const late = await measured(() => list(lateToken));
      checkPage(late.value, lateIndex, options.pageSize, files);
      lateMs.push(late.ms);
      lateBlockMs = Math.max(lateBlockMs, late.blockMs);
    }
    progress(`first page ${fmt(cold.ms)} ms cold, ${fmt(median(warmFirstMs), 1)} ms warm; page at 90% ${fmt(median(lateMs), 1)} ms`);

    let full: SizeResult["full"] = null;
    if (files <= options.fullMax) {
      progress(`full pass over ${fmt(Math.ceil(files / options.pageSize))} pages`);
      const pageMs: number[] = [];
      let blockMs = 0;
      let token = "";
      let index = 0;
      started = performance.now();
      do {
        const page = await measured(() => list(token));
        checkPage(page.value, index, options.pageSize, files);
        pageMs.push(page.ms);
        blockMs = Math.max(blockMs, page.blockMs);
        index += page.value.objects.length;
        token = page.value.nextPageToken;
      } while (token !== "");
      if (index !== files) throw new Error(`the full pass listed ${index} objects, not ${files}`);
      const tenth = Math.max(1, Math.floor(pageMs.length / 10));
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      full = {
        pages: pageMs.length,
        medianMs: median(pageMs),
        maxMs: Math.max(...pageMs),
        firstTenthMs: mean(pageMs.slice(0, tenth)),
        lastTenthMs: mean(pageMs.slice(-tenth)),
        totalSeconds: (performance.now() - started) / 1000,
        blockMs,
      };
      progress(
        `full pass ${fmt(full.totalSeconds, 1)} s: median page ${fmt(full.medianMs, 1)} ms, first tenth ${fmt(full.firstTenthMs, 1)} ms, last tenth ${fmt(full.lastTenthMs, 1)} ms`,
      );
    }
    const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
    await store.close();
    progress("removing the files");
    started = performance.now();
    await rm(root, { recursive: true, force: true });
    const removeSeconds = (performance.now() - started) / 1000;
    progress(`removed in ${fmt(removeSeconds, 1)} s`);
    return {
      files,
      createSeconds,
      coldFirstMs: cold.ms,
      coldFirstBlockMs: cold.blockMs,
      warmFirstMs,
      lateMs,
      lateBlockMs,
      full,
      heapMiB,
      removeSeconds,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function resultsTable(results: SizeResult[]): Table {
  return {
    head: [
      "files",
      "create files s",
      "first page, fresh store ms",
      "first page ms",
      "page at 90% ms",
      "full pass: pages",
      "median page ms",
      "first tenth / last tenth ms",
      "slowest page ms",
      "full pass s",
      "event loop held max ms (fresh / later)",
      "heap MiB",
    ],
    rows: results.map((r) => [
      fmt(r.files),
      fmt(r.createSeconds, 1),
      fmt(r.coldFirstMs),
      fmt(median(r.warmFirstMs), 1),
      fmt(median(r.lateMs), 1),
      r.full === null ? "not run" : fmt(r.full.pages),
      r.full === null ? "–" : fmt(r.full.medianMs, 1),
      r.full === null ? "–" : `${fmt(r.full.firstTenthMs, 1)} / ${fmt(r.full.lastTenthMs, 1)}`,
      r.full === null ? "–" : fmt(r.full.maxMs),
      r.full === null ? "–" : fmt(r.full.totalSeconds, 1),
      `${fmt(r.coldFirstBlockMs)} / ${fmt(Math.max(r.lateBlockMs, r.full?.blockMs ?? 0))}`,
      fmt(r.heapMiB),
    ]),
    leftColumns: 0,
  };
}

function markdownSection(results: SizeResult[], options: ReturnType<typeof parseOptions>, command: string): string {
  const m = machineInfo();
  return [
    SECTION_START,
    "## List on the local store: one flat directory, page cost by position",
    "",
    `Generated by \`${command}\` on ${new Date().toISOString()} (${m.cores} cores, ${m.model}, Linux ${m.kernel}, node ${process.version}, temp directory on the machine's file system). Not part of \`npm run bench\`, which rewrites the rest of this page.`,
    "",
    `- N empty files made with \`fs\` in one directory (no sidecars, like files placed by hand); the store is called in-process, page size ${options.pageSize}, no delimiter.`,
    `- first page, fresh store: the directory is read and sorted once (then cached while it does not change); first page and page at 90%: the same again, median of ${options.runs}; the page at 90% starts from a page token naming the key before it.`,
    "- full pass: every page in order; first tenth / last tenth: mean page time over the first and the last tenth of the pages. A page cost that grew with the pages already served would show as a last tenth far above the first.",
    "- event loop held: the longest the event loop was blocked during the fresh first page / during any later page (monitorEventLoopDelay, 5 ms resolution).",
    "",
    markdownTable(resultsTable(results)),
    "",
    SECTION_END,
  ].join("\n");
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv);
  if (options.help) {
    console.log(usage);
    return;
  }
  const module = (await import(pathToFileURL(options.store).href)) as { createLocalStore: (o: LocalStoreOptions) => Promise<RawStore> };
  const args = argv.join(" ");
  const command =
    process.env.npm_lifecycle_event === "bench:list"
      ? `npm run bench:list${args === "" ? "" : ` -- ${args}`}`
      : `npx tsx bench/local-list.ts${args === "" ? "" : ` ${args}`}`;
  console.log(
    `stowd local listing benchmark: sizes ${options.sizes.map((s) => fmt(s)).join(", ")}; page size ${options.pageSize}; store ${path.relative(process.cwd(), options.store)}`,
  );
  const results: SizeResult[] = [];
  for (const files of options.sizes)
    results.push(await runSize(module.createLocalStore, files, options, (line) => process.stderr.write(`  ${line}\n`)));
  console.log(textTable(resultsTable(results)));
  if (options.markdown !== undefined) {
    const section = markdownSection(results, options, command);
    const text = await readFile(options.markdown, "utf8").catch(() => "");
    const start = text.indexOf(SECTION_START);
    const end = text.indexOf(SECTION_END);
    const next =
      start >= 0 && end > start
        ? text.slice(0, start) + section + text.slice(end + SECTION_END.length)
        : `${text.trimEnd()}\n\n${section}\n`;
    await writeFile(options.markdown, next);
    console.log(`wrote the local listing section of ${options.markdown}`);
  }
}

await main();
