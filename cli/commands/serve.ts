// `stowd serve`: the daemon itself — server/main.ts's main(), exactly what
// `npm start` runs, with the daemon's own flags. Imported only here, so the
// client commands never load the server.
export const SERVE_SUMMARY = "run the daemon (the same as npm start; serve --help lists its options)";

export async function serve(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { main, exitOnStartFailure } = await import("../../server/main.js");
  if (argv.includes("-h") || argv.includes("--help")) {
    process.stdout.write("stowd serve [options] runs the daemon that `npm start` runs; it takes the same options.\n\n");
  }
  await main(argv, env).catch(exitOnStartFailure);
}
