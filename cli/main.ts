#!/usr/bin/env node
// The `stowd` command (package.json bin; built to dist/cli/main.js). In a
// checkout: npm run stowd -- ARGS, or npx tsx cli/main.ts ARGS.
import { runCli } from "./run.js";

// `stowd cat ... | head` closes stdout early: that ends the command, it is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2), process.env);
