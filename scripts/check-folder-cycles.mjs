// `npm run lint` (and CI): fails when folders import each other in a cycle.
// Imports must flow one way (design notes: "no folder cycles"), so a
// newcomer can read the daemon from the top down. Each file belongs to a
// folder node: server/<folder>, or server/stores/<backend> one level deeper.
// A file directly in server/ or server/stores/ (main.ts, raw-store.ts) is a
// node of its own: it is a module beside the folders, not a folder.
// Every relative import counts, `import type` included: a type cycle is as
// hard to read as a value cycle. No dependency: imports are found with a
// regex, which is enough for the `from "./x.js"` lines this code base writes.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
/** The folders whose files are scanned; imports into other folders count as edges to those folders. */
const scanned = ["server", "common"];

/** `from "x"`, `import "x"` and `import("x")`, relative specifiers only. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g;

function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** The node a repository path belongs to: its folder at the graph's depth, or the file itself when it sits above that depth. */
function nodeOf(path) {
  const parts = relative(root, path).replace(/\.js$/, ".ts").split(sep);
  if (parts[0] !== "server") return parts[0];
  const depth = parts[1] === "stores" ? 3 : 2;
  return parts.slice(0, parts.length > depth ? depth : parts.length).join("/");
}

/** node → node → the first import seen for that edge ("file -> target"), for the report. */
const edges = new Map();
for (const folder of scanned) {
  for (const file of tsFiles(join(root, folder))) {
    const from = nodeOf(file);
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(IMPORT)) {
      const target = resolve(dirname(file), match[1]);
      const to = nodeOf(target);
      if (to === from) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      const out = edges.get(from);
      if (!out.has(to)) out.set(to, `${relative(root, file)} -> ${relative(root, target)}`);
    }
  }
}

// Tarjan's strongly connected components: every component of more than one folder is a cycle.
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
let next = 0;
function visit(node) {
  index.set(node, next);
  low.set(node, next);
  next++;
  stack.push(node);
  onStack.add(node);
  for (const to of edges.get(node)?.keys() ?? []) {
    if (!index.has(to)) {
      visit(to);
      low.set(node, Math.min(low.get(node), low.get(to)));
    } else if (onStack.has(to)) {
      low.set(node, Math.min(low.get(node), index.get(to)));
    }
  }
  if (low.get(node) === index.get(node)) {
    const component = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) components.push(component.sort());
  }
}
for (const node of [...edges.keys()].sort()) if (!index.has(node)) visit(node);

if (components.length === 0) {
  process.stdout.write(`folder imports: no cycles among ${index.size} folders and files\n`);
} else {
  for (const component of components) {
    process.stderr.write(`folder import cycle: ${component.join(", ")}\n`);
    const members = new Set(component);
    for (const from of component) {
      for (const [to, example] of edges.get(from) ?? []) {
        if (members.has(to)) process.stderr.write(`  ${from} -> ${to}   (e.g. ${example})\n`);
      }
    }
  }
  process.stderr.write(`${components.length} folder import cycle(s): imports must flow one way between folders\n`);
  process.exit(1);
}
