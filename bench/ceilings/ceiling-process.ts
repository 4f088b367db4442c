// What every ceiling server process does around its server: tells the
// benchmark its port (one JSON line on stdout, read by harness/children.ts's
// portLine) and exits when told to or when the benchmark goes away.
export function announcePort(port: number): void {
  process.stdout.write(JSON.stringify({ port }) + "\n");
}

/** Exit 0 on SIGINT / SIGTERM (after `beforeExit`) and when stdin ends: the benchmark owns this process. */
export function exitWithBenchmark(beforeExit: () => void = () => {}): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      beforeExit();
      process.exit(0);
    });
  }
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}
