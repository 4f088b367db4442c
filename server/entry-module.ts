// Whether a module is the script node was started with, so a file can be both
// an entry point (`npm start`, `node dist/server/main.js`) and a library that
// the CLI imports without side effects.
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";

export function isEntryModule(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    // realpath: npm's bin links and symlinked checkouts name the same file differently.
    return pathToFileURL(realpathSync(script)).href === moduleUrl;
  } catch {
    return false; // argv[1] is not a file (node -e, a REPL): not us
  }
}
