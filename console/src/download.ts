// Downloading an object to the user's disk: through a signed GET URL when
// the backend signs same-origin URLs (the browser fetches the bytes straight
// from /signed/...), else streamed with the SDK's read; either way into a
// Blob saved with an <a download>.
import type { ObjectInfo } from "../../client/browser.js";
import { lastSegment } from "./references.js";
import { isSameOrigin, signsUrls, type Session } from "./session.js";

export type TransferMethod = "signed URL" | "SDK stream" | "SDK write";

/** Fetches the object and hands it to the browser's download; resolves with how it was fetched. */
export async function downloadObject(session: Session, info: ObjectInfo): Promise<TransferMethod> {
  const { blob, method } = await fetchObject(session, info);
  saveBlob(blob, lastSegment(info.reference) || "download");
  return method;
}

async function fetchObject(session: Session, info: ObjectInfo): Promise<{ blob: Blob; method: TransferMethod }> {
  const type = info.contentType || "application/octet-stream";
  if (signsUrls(session, info.reference)) {
    const signed = await session.client.createSignedUrl(info.reference, { method: "GET", expiresInSeconds: 300 });
    if (isSameOrigin(signed.url)) {
      const response = await fetch(signed.url, { headers: signed.requiredHeaders });
      if (!response.ok) throw new Error(`the signed URL answered ${response.status}: ${(await response.text()).trim()}`);
      return { blob: await response.blob(), method: "signed URL" };
    }
  }
  const handle = await session.client.read(info.reference);
  const parts: BlobPart[] = [];
  for await (const chunk of handle.chunks) parts.push(chunk as Uint8Array<ArrayBuffer>);
  return { blob: new Blob(parts, { type }), method: "SDK stream" };
}

function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started once click() returns; the URL is only needed until then.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
