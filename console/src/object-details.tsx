// One object: its info, a preview, and what can be done with it: download
// (signed URL or stream), copy to a typed reference, delete (confirmed).
import { useState } from "preact/hooks";
import type { ObjectInfo } from "../../client/browser.js";
import { ConfirmDialog } from "./confirm-dialog.js";
import { downloadObject } from "./download.js";
import { ErrorView } from "./error-view.js";
import { formatBytes, formatCrc32c, formatTime } from "./format.js";
import { hrefOf, navigate } from "./hash-route.js";
import { Preview } from "./previews.js";
import { breadcrumbs, lastSegment, parentPrefix } from "./references.js";
import type { Session } from "./session.js";
import { useLoad } from "./use-load.js";

export function ObjectDetails({ session, reference }: { session: Session; reference: string }) {
  const [info] = useLoad(() => session.client.head(reference), [session, reference]);
  const up = parentPrefix(reference);
  return (
    <section class="object" aria-labelledby="object-title">
      <nav aria-label="Breadcrumbs" class="breadcrumbs">
        <a href={hrefOf({ view: "home" })}>Schemes</a>
        {up !== undefined &&
          breadcrumbs(up).map((crumb) => (
            <span key={crumb.reference}>
              {" / "}
              <a href={hrefOf({ view: "browse", reference: crumb.reference })}>{crumb.label}</a>
            </span>
          ))}
        {" / "}
        <span aria-current="page">{lastSegment(reference)}</span>
      </nav>
      <h1 id="object-title">
        <code>{reference}</code>
      </h1>
      {info.state === "loading" && <p aria-busy="true">Loading…</p>}
      {info.state === "error" && <ErrorView error={info.error} title={`Reading the info of ${reference} failed`} />}
      {info.state === "ok" && info.value === undefined && <p class="empty">There is no object at this reference.</p>}
      {info.state === "ok" && info.value !== undefined && <Details session={session} info={info.value} />}
    </section>
  );
}

function Details({ session, info }: { session: Session; info: ObjectInfo }) {
  const [busy, setBusy] = useState("");
  const [notice, setNotice] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const [confirming, setConfirming] = useState(false);
  const [destination, setDestination] = useState("");

  const run = async (label: string, action: () => Promise<string>) => {
    setBusy(label);
    setError(undefined);
    setNotice("");
    try {
      setNotice(await action());
    } catch (e) {
      setError(e);
    } finally {
      setBusy("");
    }
  };
  const up = parentPrefix(info.reference);
  const metadata = Object.entries(info.metadata);

  return (
    <>
      <dl class="info">
        <dt>Size</dt>
        <dd>
          {formatBytes(info.size)} ({info.size.toLocaleString()} bytes)
        </dd>
        <dt>Content type</dt>
        <dd>{info.contentType || "—"}</dd>
        <dt>Updated</dt>
        <dd>{formatTime(info.updateTime)}</dd>
        <dt>ETag</dt>
        <dd>
          <code>{info.etag}</code>
        </dd>
        <dt>CRC32C</dt>
        <dd>
          <code>{formatCrc32c(info.crc32c)}</code>
        </dd>
        <dt>Generation</dt>
        <dd>{info.generation || "—"}</dd>
        <dt>Metadata</dt>
        <dd>
          {metadata.length === 0 ? (
            "none"
          ) : (
            <table class="metadata">
              <tbody>
                {metadata.map(([key, value]) => (
                  <tr key={key}>
                    <th scope="row">
                      <code>{key}</code>
                    </th>
                    <td>
                      <code>{value}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </dd>
      </dl>

      <div class="toolbar">
        <button
          type="button"
          disabled={busy !== ""}
          onClick={() => void run("download", async () => `Downloaded ${info.reference} (${await downloadObject(session, info)}).`)}
        >
          {busy === "download" ? "Downloading…" : "Download"}
        </button>
        <button type="button" class="danger" disabled={busy !== ""} onClick={() => setConfirming(true)}>
          Delete…
        </button>
      </div>
      <form
        class="copy"
        onSubmit={(e) => {
          e.preventDefault();
          const to = destination.trim();
          if (to !== "") void run("copy", async () => `Copied to ${(await session.client.copy(info.reference, to)).reference}.`);
        }}
      >
        <label for="copy-destination">Copy to reference</label>
        <input
          id="copy-destination"
          type="text"
          spellcheck={false}
          placeholder={`${up ?? ""}copy-of-${lastSegment(info.reference)}`}
          value={destination}
          onInput={(e) => setDestination(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy !== ""}>
          {busy === "copy" ? "Copying…" : "Copy"}
        </button>
      </form>
      <div aria-live="polite" class="notice" data-testid="notice">
        {notice}
      </div>
      {error !== undefined && <ErrorView error={error} />}

      <Preview session={session} info={info} />

      {confirming && (
        <ConfirmDialog
          title="Delete this object?"
          confirmLabel="Delete"
          onCancel={() => setConfirming(false)}
          onConfirm={() => {
            setConfirming(false);
            void run("delete", async () => {
              await session.client.delete(info.reference);
              navigate(up === undefined ? { view: "home" } : { view: "browse", reference: up });
              return `Deleted ${info.reference}.`;
            });
          }}
        >
          <p>
            This deletes <code>{info.reference}</code> ({formatBytes(info.size)}). It cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
