// Uploading files into a prefix, one after another, reporting progress: a
// PUT to a signed URL with XMLHttpRequest when the backend signs same-origin
// URLs (real upload progress events; the daemon-signed URL is bound to the
// file's exact size and content type), else the SDK's write, whose progress
// is known only when the file is done.
import { childReference } from "./references.js";
import { isSameOrigin, signsUrls, type Session } from "./session.js";
import type { TransferMethod } from "./download.js";

export interface UploadItem {
  name: string;
  reference: string;
  size: number;
  /** Bytes sent so far. */
  sent: number;
  state: "waiting" | "sending" | "done" | "failed";
  method: TransferMethod | undefined;
  error?: unknown;
}

/** Headers a page may not set: the browser sends them itself (Content-Length is the Blob's exact size). */
const BROWSER_HEADERS = new Set(["content-length", "host", "connection"]);

/** Uploads `files` into `prefix`; `onChange` gets a fresh copy of every item after each step. */
export async function uploadFiles(
  session: Session,
  prefix: string,
  files: File[],
  onChange: (items: UploadItem[]) => void,
): Promise<UploadItem[]> {
  const items: UploadItem[] = files.map((file) => ({
    name: file.name,
    reference: childReference(prefix, file.name),
    size: file.size,
    sent: 0,
    state: "waiting",
    method: undefined,
  }));
  const report = () => onChange(items.map((item) => ({ ...item })));
  report();
  for (const [i, file] of files.entries()) {
    const item = items[i]!;
    item.state = "sending";
    report();
    try {
      item.method = await uploadOne(session, item.reference, file, (sent) => {
        item.sent = sent;
        report();
      });
      item.sent = item.size;
      item.state = "done";
    } catch (error) {
      item.state = "failed";
      item.error = error;
    }
    report();
  }
  return items;
}

async function uploadOne(session: Session, reference: string, file: File, onProgress: (sent: number) => void): Promise<TransferMethod> {
  const contentType = file.type || "application/octet-stream";
  if (signsUrls(session, reference)) {
    const signed = await session.client.createSignedUrl(reference, {
      method: "PUT",
      expiresInSeconds: 600,
      contentType,
      contentLength: file.size,
    });
    if (isSameOrigin(signed.url)) {
      await putWithProgress(signed.url, headersOf(contentType, signed.requiredHeaders), file, onProgress);
      return "signed URL";
    }
  }
  await session.client.write(reference, file, { contentType, size: file.size });
  return "SDK write";
}

/** The PUT's headers: the content type, then the required headers (which win), one value per name whatever its case. */
function headersOf(contentType: string, required: Record<string, string>): Map<string, string> {
  const headers = new Map([["content-type", contentType]]);
  for (const [name, value] of Object.entries(required)) headers.set(name.toLowerCase(), value);
  return headers;
}

function putWithProgress(url: string, headers: Map<string, string>, file: File, onProgress: (sent: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [name, value] of headers) {
      if (!BROWSER_HEADERS.has(name)) xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new Error(`the signed URL answered ${xhr.status}: ${xhr.responseText.trim()}`));
    });
    xhr.addEventListener("error", () => reject(new Error("the upload to the signed URL failed (network error)")));
    xhr.addEventListener("abort", () => reject(new Error("the upload was cancelled")));
    xhr.send(file);
  });
}
