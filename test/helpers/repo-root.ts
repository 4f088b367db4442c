// The repository root: where children start (so `--import tsx` resolves) and
// where node_modules lives.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
