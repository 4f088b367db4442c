// Progress of the files being uploaded into the listed prefix: one bar per
// file and one for all of them, with a text status that screen readers hear.
import { describeError } from "./errors.js";
import { formatBytes } from "./format.js";
import type { UploadItem } from "./uploads.js";

export function UploadPanel({ items, onDismiss }: { items: UploadItem[]; onDismiss: () => void }) {
  const total = items.reduce((sum, item) => sum + item.size, 0);
  const sent = items.reduce((sum, item) => sum + item.sent, 0);
  const done = items.filter((item) => item.state === "done").length;
  const failed = items.filter((item) => item.state === "failed").length;
  const finished = done + failed === items.length;
  const status = finished
    ? `Uploaded ${done} of ${items.length} file${items.length === 1 ? "" : "s"}${failed > 0 ? `, ${failed} failed` : ""}.`
    : `Uploading ${done + failed + 1} of ${items.length}: ${formatBytes(sent)} of ${formatBytes(total)}`;
  return (
    <section class="uploads" aria-labelledby="uploads-title">
      <h2 id="uploads-title">Uploads</h2>
      <p class="upload-status" aria-live="polite" data-testid="upload-status">
        {status}
      </p>
      <progress class="upload-overall" aria-label="All files" max={Math.max(total, 1)} value={total === 0 && finished ? 1 : sent} />
      <ul class="upload-items">
        {items.map((item) => (
          <li key={item.reference} class={`upload-item ${item.state}`}>
            <span class="upload-name">{item.name}</span>
            {/* An SDK write reports only when it is done: no value means "in progress, amount unknown". */}
            {item.state === "sending" && item.method === undefined && item.sent === 0 ? (
              <progress aria-label={item.name} />
            ) : (
              <progress
                aria-label={item.name}
                max={Math.max(item.size, 1)}
                value={item.size === 0 && item.state === "done" ? 1 : item.sent}
              />
            )}
            <span class="upload-state">
              {item.state === "failed" ? `failed: ${describeError(item.error).message}` : item.state}
              {item.method !== undefined && ` (${item.method})`}
            </span>
          </li>
        ))}
      </ul>
      {finished && (
        <button type="button" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </section>
  );
}
