// One asynchronous load per view (a listing page, an object's info): its
// state, and a way to run it again. A load that finishes after the view
// moved on is ignored.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export type Loaded<T> = { state: "loading" } | { state: "ok"; value: T } | { state: "error"; error: unknown };

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  const [round, setRound] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const run = ++latest.current;
    setLoaded({ state: "loading" });
    load().then(
      (value) => run === latest.current && setLoaded({ state: "ok", value }),
      (error: unknown) => run === latest.current && setLoaded({ state: "error", error }),
    );
  }, [...deps, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return [loaded, reload];
}
