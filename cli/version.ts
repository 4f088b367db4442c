// stowd's version, from the package.json beside the code: the repository's
// in a checkout, dist/package.json (written by npm run build) in a build.
import { readFileSync } from "node:fs";

export function cliVersion(): string {
  const text = readFileSync(new URL("../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}
