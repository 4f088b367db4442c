// A small line chart in SVG: the last points of one rate, scaled to the
// largest, with that maximum and the latest value written out for readers
// and screen readers alike. Until the chart is full its points span the
// whole width; then it scrolls.
export interface LineChartProps {
  title: string;
  points: number[];
  /** How many points the chart holds when full. */
  capacity: number;
  /** Seconds between two points, for the time span written under the chart. */
  secondsPerPoint: number;
  format: (value: number) => string;
}

const WIDTH = 300;
const HEIGHT = 100;

export function LineChart({ title, points, capacity, secondsPerPoint, format }: LineChartProps) {
  const max = Math.max(0, ...points);
  const latest = points.at(-1) ?? 0;
  const span = Math.max(2, Math.min(capacity, points.length));
  const step = WIDTH / (span - 1);
  const offset = WIDTH - (points.length - 1) * step;
  const y = (v: number) => (max === 0 ? HEIGHT - 1 : HEIGHT - 1 - (v / max) * (HEIGHT - 6));
  const line = points.map((v, i) => `${(offset + i * step).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{title}</span> <span class="chart-latest">{format(latest)}</span>
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${title}: now ${format(latest)}, peak ${format(max)}`}
      >
        <line class="chart-axis" x1="0" y1={HEIGHT - 0.5} x2={WIDTH} y2={HEIGHT - 0.5} />
        {points.length > 1 && <polyline class="chart-line" points={line} />}
      </svg>
      <p class="chart-scale">
        peak {format(max)} over the last {Math.round(Math.max(0, points.length - 1) * secondsPerPoint)} s
      </p>
    </figure>
  );
}
