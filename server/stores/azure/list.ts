// Listing on Azure: flat or by hierarchy (with a delimiter), one Azure page
// per call, put into stowd's byte order by listing.ts. Listings carry each
// blob's properties and metadata, so no per-object HEAD.
import type { BlobItem } from "@azure/storage-blob";
import type { Ref } from "../../references/reference.js";
import { referenceOf } from "../kit/object-reference.js";
import type { ListOptions, ListPage } from "../raw-store.js";
import { checkRef, containerOf, fail, run, type AzureContext } from "./context.js";
import { listUtf8Page, type BackendEntry, type BackendPage } from "./listing.js";
import { toMeta } from "./metadata.js";

export async function list(ctx: AzureContext, prefix: Ref, options: ListOptions, signal: AbortSignal): Promise<ListPage> {
  checkRef(ctx, prefix, false);
  const reference = referenceOf(prefix);
  const container = containerOf(ctx, prefix);
  const fetch = async (marker: string, maxResults: number): Promise<BackendPage<BlobItem>> => {
    try {
      return await run(ctx, "LIST", prefix, signal, true, async (s) => {
        const settings = { prefix: prefix.key, includeMetadata: true, abortSignal: s };
        const pages =
          options.delimiter === ""
            ? container.listBlobsFlat(settings).byPage({ maxPageSize: maxResults, ...(marker === "" ? {} : { continuationToken: marker }) })
            : container
                .listBlobsByHierarchy(options.delimiter, settings)
                .byPage({ maxPageSize: maxResults, ...(marker === "" ? {} : { continuationToken: marker }) });
        const next = await pages.next();
        if (next.done === true) return { entries: [], marker: "" };
        const segment = next.value.segment as { blobItems?: BlobItem[]; blobPrefixes?: Array<{ name: string }> };
        const entries: Array<BackendEntry<BlobItem>> = [
          ...(segment.blobItems ?? []).map((item) => ({ name: item.name, isPrefix: false, item })),
          ...(segment.blobPrefixes ?? []).map((p) => ({ name: p.name, isPrefix: true })),
        ];
        return { entries, marker: next.value.continuationToken ?? "" };
      });
    } catch (err) {
      throw fail(ctx, err, prefix, signal);
    }
  };
  const page = await listUtf8Page(fetch, prefix.key, options, reference);
  return {
    objects: page.entries.flatMap((e) =>
      e.item === undefined ? [] : [toMeta(e.name, { ...e.item.properties, metadata: e.item.metadata, versionId: e.item.versionId })],
    ),
    commonPrefixes: page.entries.filter((e) => e.isPrefix).map((e) => e.name),
    nextPageToken: page.nextPageToken,
  };
}
