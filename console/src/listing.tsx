// One "directory" of a container: a delimiter listing of the prefix, page by
// page (the SDK follows the page tokens; pages already seen are kept for
// Previous, and the next one is fetched ahead so Next knows whether there is
// one). Files dropped on the listing or picked with the button are uploaded
// into the prefix. Keyboard: arrow keys move between entries, Enter opens
// one, Backspace goes up a level.
import { useEffect, useRef, useState } from "preact/hooks";
import type { ListPage } from "../../client/browser.js";
import { ConfirmDialog } from "./confirm-dialog.js";
import { ErrorView } from "./error-view.js";
import { formatBytes, formatTime } from "./format.js";
import { hrefOf, navigate } from "./hash-route.js";
import { breadcrumbs, nameInPrefix, parentPrefix } from "./references.js";
import type { Session } from "./session.js";
import { UploadPanel } from "./upload-panel.js";
import { uploadFiles, type UploadItem } from "./uploads.js";

const PAGE_SIZES = [10, 50, 100, 1000];

interface Pages {
  pages: ListPage[];
  /** No page after the last one in `pages`. */
  complete: boolean;
  error: unknown;
}

type Pending = { kind: "object" | "prefix"; reference: string } | undefined;

export function Listing({ session, prefix }: { session: Session; prefix: string }) {
  const [pageSize, setPageSize] = useState(50);
  const [round, setRound] = useState(0);
  const [shown, setShown] = useState(0);
  const [pages, setPages] = useState<Pages>({ pages: [], complete: false, error: undefined });
  const iterator = useRef<AsyncIterator<ListPage> | undefined>(undefined);
  const [pending, setPending] = useState<Pending>(undefined);
  const [notice, setNotice] = useState("");
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [uploads, setUploads] = useState<UploadItem[] | undefined>(undefined);
  const [dragging, setDragging] = useState(false);
  const table = useRef<HTMLTableElement>(null);

  // A new listing (prefix, page size, refresh): start over from the first page.
  useEffect(() => {
    const it = session.client.listPages(prefix, { delimiter: "/", pageSize })[Symbol.asyncIterator]();
    iterator.current = it;
    setShown(0);
    setPages({ pages: [], complete: false, error: undefined });
    return () => void it.return?.();
  }, [session, prefix, pageSize, round]);

  // Keep one page beyond the one shown, so Next is enabled only when there is a next page.
  // One fetch at a time per listing; a fetch of a listing that was replaced is ignored.
  const fetching = useRef<AsyncIterator<ListPage> | undefined>(undefined);
  useEffect(() => {
    const it = iterator.current;
    if (it === undefined || fetching.current === it || pages.complete || pages.error !== undefined || pages.pages.length > shown + 1)
      return;
    fetching.current = it;
    const settle = (update: (p: Pages) => Pages) => {
      if (fetching.current === it) fetching.current = undefined;
      if (iterator.current === it) setPages(update);
    };
    it.next().then(
      (r) => settle((p) => (r.done === true ? { ...p, complete: true } : { ...p, pages: [...p.pages, r.value] })),
      (error: unknown) => settle((p) => ({ ...p, error })),
    );
  }, [pages, shown]);

  const page = pages.pages[shown];
  const loading = page === undefined && pages.error === undefined && !pages.complete;
  const hasNext = pages.pages.length > shown + 1;
  const up = parentPrefix(prefix);
  const reload = () => setRound((r) => r + 1);

  const startUpload = (files: File[]) => {
    if (files.length === 0) return;
    setNotice("");
    uploadFiles(session, prefix, files, setUploads).then(reload, setActionError);
  };

  const confirmDelete = async (p: NonNullable<Pending>) => {
    setPending(undefined);
    setActionError(undefined);
    try {
      if (p.kind === "object") {
        await session.client.delete(p.reference);
        setNotice(`Deleted ${p.reference}.`);
      } else {
        const count = await session.client.deletePrefix(p.reference);
        setNotice(`Deleted ${count} object${count === 1 ? "" : "s"} under ${p.reference}.`);
      }
      reload();
    } catch (error) {
      setActionError(error);
    }
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const target = e.target as HTMLElement;
    if (target.closest("input, select, textarea, dialog") !== null) return;
    if (e.key === "Backspace" && up !== undefined) {
      e.preventDefault();
      navigate({ view: "browse", reference: up });
      return;
    }
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const links = [...(table.current?.querySelectorAll<HTMLAnchorElement>("a[data-entry]") ?? [])];
    if (links.length === 0) return;
    e.preventDefault();
    const at = links.indexOf(document.activeElement as HTMLAnchorElement);
    const next = at < 0 ? 0 : Math.min(links.length - 1, Math.max(0, at + (e.key === "ArrowDown" ? 1 : -1)));
    links[next]!.focus();
  };

  return (
    <section
      class={`listing${dragging ? " dragging" : ""}`}
      aria-labelledby="listing-title"
      onKeyDown={onKeyDown}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        startUpload([...(e.dataTransfer?.files ?? [])]);
      }}
    >
      <nav aria-label="Breadcrumbs" class="breadcrumbs">
        <a href={hrefOf({ view: "home" })}>Schemes</a>
        {breadcrumbs(prefix).map((crumb) => (
          <span key={crumb.reference}>
            {" / "}
            <a href={hrefOf({ view: "browse", reference: crumb.reference })} aria-current={crumb.reference === prefix ? "page" : undefined}>
              {crumb.label}
            </a>
          </span>
        ))}
      </nav>
      <h1 id="listing-title">
        <code>{prefix}</code>
      </h1>

      <div class="toolbar">
        <label class="button">
          Upload files…
          <input
            type="file"
            multiple
            class="visually-hidden"
            onChange={(e) => {
              startUpload([...(e.currentTarget.files ?? [])]);
              e.currentTarget.value = "";
            }}
          />
        </label>
        <label>
          Page size{" "}
          <select value={String(pageSize)} onChange={(e) => setPageSize(Number(e.currentTarget.value))}>
            {PAGE_SIZES.map((size) => (
              <option key={size} value={String(size)}>
                {size}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={reload}>
          Refresh
        </button>
        {up !== undefined && (
          <button type="button" class="danger" onClick={() => setPending({ kind: "prefix", reference: prefix })}>
            Delete this prefix…
          </button>
        )}
      </div>
      <p class="hint">Drop files here to upload them into this prefix. Keys: ↑ ↓ move, Enter opens, Backspace goes up.</p>

      <div aria-live="polite" class="notice" data-testid="notice">
        {notice}
      </div>
      {actionError !== undefined && <ErrorView error={actionError} />}
      {uploads !== undefined && <UploadPanel items={uploads} onDismiss={() => setUploads(undefined)} />}

      {pages.error !== undefined && <ErrorView error={pages.error} title={`Listing ${prefix} failed`} />}
      {loading && <p aria-busy="true">Loading…</p>}
      {page === undefined && pages.complete && shown === 0 && <p class="empty">No objects under this prefix.</p>}
      {page !== undefined && page.objects.length + page.commonPrefixes.length === 0 && <p class="empty">No objects under this prefix.</p>}
      {page !== undefined && page.objects.length + page.commonPrefixes.length > 0 && (
        <table ref={table} class="entries">
          <caption class="visually-hidden">Objects and prefixes under {prefix}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col">Type</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {page.commonPrefixes.map((reference) => (
              <tr key={reference} class="prefix-row">
                <td>
                  <a data-entry href={hrefOf({ view: "browse", reference })}>
                    {nameInPrefix(reference, prefix)}
                  </a>
                </td>
                <td>—</td>
                <td>prefix</td>
                <td>—</td>
                <td>
                  <button
                    type="button"
                    class="small danger"
                    aria-label={`Delete everything under ${nameInPrefix(reference, prefix)}`}
                    onClick={() => setPending({ kind: "prefix", reference })}
                  >
                    Delete…
                  </button>
                </td>
              </tr>
            ))}
            {page.objects.map((info) => (
              <tr key={info.reference} class="object-row">
                <td>
                  <a data-entry href={hrefOf({ view: "object", reference: info.reference })}>
                    {nameInPrefix(info.reference, prefix)}
                  </a>
                </td>
                <td>{formatBytes(info.size)}</td>
                <td>{info.contentType || "—"}</td>
                <td>{formatTime(info.updateTime)}</td>
                <td>
                  <button
                    type="button"
                    class="small danger"
                    aria-label={`Delete ${nameInPrefix(info.reference, prefix)}`}
                    onClick={() => setPending({ kind: "object", reference: info.reference })}
                  >
                    Delete…
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={shown === 0} onClick={() => setShown((s) => s - 1)}>
          ← Previous page
        </button>
        <span aria-live="polite">Page {shown + 1}</span>
        <button type="button" disabled={!hasNext} onClick={() => setShown((s) => s + 1)}>
          Next page →
        </button>
      </nav>

      {pending !== undefined && (
        <ConfirmDialog
          title={pending.kind === "object" ? "Delete this object?" : "Delete every object under this prefix?"}
          confirmLabel="Delete"
          onConfirm={() => void confirmDelete(pending)}
          onCancel={() => setPending(undefined)}
        >
          <p>
            {pending.kind === "object" ? "This deletes " : "This deletes every object whose reference starts with "}
            <code>{pending.reference}</code>. It cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
