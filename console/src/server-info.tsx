// What the daemon serves: its version, each backend's capabilities, the
// limits in force, the caller's grants, and live charts of calls, bytes and
// errors per second from /metrics (read every 2 s while this page is open).
import { useEffect, useState } from "preact/hooks";
import type { Capabilities } from "../../client/browser.js";
import { LineChart } from "./charts.js";
import { ErrorView } from "./error-view.js";
import { formatBytes, formatNumber } from "./format.js";
import { addRates, EMPTY_SERIES, type RateSeries, type Reading } from "./metric-rates.js";
import { parseMetricsText, totalsOf } from "./metrics-text.js";
import type { Session } from "./session.js";

const POLL_MS = 2000;
/** Two minutes of points. */
const CHART_POINTS = 60;

const CAPABILITY_NAMES: Array<[keyof Capabilities, string]> = [
  ["rangedReads", "Ranged reads"],
  ["append", "Append"],
  ["conditionalWrites", "Conditional writes"],
  ["signedUrls", "Signed URLs"],
  ["delimiterListing", "Delimiter listing"],
  ["serverSideCopy", "Server-side copy"],
];

export function ServerInfoView({ session }: { session: Session }) {
  const { info } = session;
  const limit = (bytes: number) => (bytes === 0 ? "unlimited" : formatBytes(bytes));
  return (
    <section class="server" aria-labelledby="server-title">
      <h1 id="server-title">Server</h1>
      <p>
        stowd <strong>{info.version}</strong> at <code>{window.location.host}</code>
      </p>
      <LiveCharts />

      <h2>Backends</h2>
      <table class="capabilities">
        <thead>
          <tr>
            <th scope="col">Scheme</th>
            <th scope="col">Kind</th>
            <th scope="col">Default container</th>
            {CAPABILITY_NAMES.map(([, name]) => (
              <th scope="col" key={name}>
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {info.backends.map((b) => (
            <tr key={b.scheme}>
              <th scope="row">
                <code>{b.scheme}://</code>
              </th>
              <td>{b.kind}</td>
              <td>{b.baseContainerReference || "—"}</td>
              {CAPABILITY_NAMES.map(([key, name]) => (
                <td key={key} class={b.capabilities[key] ? "yes" : "no"}>
                  <span aria-hidden="true">{b.capabilities[key] ? "✔" : "✘"}</span>
                  <span class="visually-hidden">
                    {name}: {b.capabilities[key] ? "yes" : "no"}
                  </span>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Limits</h2>
      <dl class="info">
        <dt>Largest download (limits.maxDownloadMBs)</dt>
        <dd>{limit(info.limits.maxDownloadBytes)}</dd>
        <dt>Largest upload (server.maxUploadMBs)</dt>
        <dd>{limit(info.limits.maxUploadBytes)}</dd>
        <dt>Largest message (server.maxMessageMBs)</dt>
        <dd>{limit(info.limits.maxMessageBytes)}</dd>
      </dl>

      <h2>You</h2>
      {info.caller.authEnabled ? (
        <>
          <p>
            Logged in as <strong>{info.caller.name}</strong>, with these grants:
          </p>
          <ul class="grants">
            {info.caller.grants.map((g, i) => (
              <li key={i}>
                <strong>{g.operations.join(", ")}</strong> on{" "}
                {g.prefixes.map((p) => (
                  <code key={p}>{p}</code>
                ))}
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p>Authentication is off: every caller may do everything.</p>
      )}
    </section>
  );
}

function LiveCharts() {
  const [series, setSeries] = useState<RateSeries>(EMPTY_SERIES);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    let previous: Reading | undefined;
    let stopped = false;
    const poll = async () => {
      try {
        const response = await fetch("/metrics", { cache: "no-store" });
        if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
        const reading = { at: performance.now(), totals: totalsOf(parseMetricsText(await response.text())) };
        if (!stopped && previous !== undefined) {
          const from = previous;
          setSeries((s) => addRates(s, from, reading, CHART_POINTS));
        }
        previous = reading;
        setError(undefined);
      } catch (e) {
        if (!stopped) setError(e);
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  return (
    <div class="charts" aria-label="Live rates from /metrics">
      {error !== undefined && <ErrorView error={error} title="Reading /metrics failed" />}
      <LineChart
        title="Calls/s"
        points={series.callsPerSecond}
        capacity={CHART_POINTS}
        secondsPerPoint={POLL_MS / 1000}
        format={formatNumber}
      />
      <LineChart
        title="Bytes/s"
        points={series.bytesPerSecond}
        capacity={CHART_POINTS}
        secondsPerPoint={POLL_MS / 1000}
        format={(v) => `${formatBytes(Math.round(v))}/s`}
      />
      <LineChart
        title="Errors/s"
        points={series.errorsPerSecond}
        capacity={CHART_POINTS}
        secondsPerPoint={POLL_MS / 1000}
        format={formatNumber}
      />
    </div>
  );
}
