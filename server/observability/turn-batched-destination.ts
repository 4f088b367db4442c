// Where log lines go: stderr, one write per turn of the event loop. Every
// line written during a turn is joined and leaves at the end of that turn
// (setImmediate), through pino's synchronous destination (sonic-boom, which
// copes with a full pipe). Under load that is one system call for the lines of
// many calls instead of one per line (a write per call line was a tenth of a
// Head call's CPU); an idle daemon's line still leaves at once; no line waits
// on the thread pool, whose round trip per line cost more than the write at
// one caller; and whatever is pending is written when the process exits.
import { pino } from "pino";

export function turnBatchedDestination(fd: number): pino.DestinationStream {
  const sink = pino.destination({ fd, sync: true });
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.length === 1 ? (pending[0] as string) : pending.join("");
    pending = [];
    sink.write(text);
  };
  process.on("exit", flush);
  return {
    write(line: string) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  };
}
