// `stowd sign`: CreateSignedUrl — s3, gs and abfs sign their own URLs; the
// daemon signs file://, mem:// and redis:// ones when server.signedUrls has keys.
import type { Command } from "../command.js";
import { stringFlag } from "../command.js";
import { parseDurationFlag } from "../flag-values.js";
import { requireReference } from "../location.js";
import { UsageError } from "../usage-error.js";

export const sign: Command = {
  name: "sign",
  summary: "create a signed URL to GET or PUT an object without stowd",
  synopsis: "stowd sign [options] REF",
  description: `Prints a URL that reads (GET) or writes (PUT) REF without stowd's API until it
expires, then any headers the request must carry, one "name: value" per line.
s3://, gs:// and abfs:// URLs go to the backend; file://, mem:// and redis:// URLs
go to the daemon's HTTP port (/signed/), when its config has server.signedUrls keys;
without them those exit 1 with UNIMPLEMENTED. stowd info lists which can. With --json:
  {"url":...,"method":"GET"|"PUT","requiredHeaders":{...},"expireTime":ISO|null}`,
  flags: {
    method: { type: "string" },
    expires: { type: "string" },
    "content-type": { type: "string" },
  },
  flagHelp: [
    "--method GET|PUT     what the URL allows (default GET)",
    "--expires DURATION   how long it works, at most 7 days (default 1h)",
    "--content-type T     for PUT: the content type the upload must declare",
  ],
  examples: [
    "stowd sign s3://bucket/report.pdf",
    "stowd sign --method PUT --expires 15m gs://bucket/upload.bin",
    'curl -s "$(stowd sign --json s3://bucket/k | jq -r .url)"',
    'curl -s -r 0-99 "$(stowd sign --json file://bucket/big.bin | jq -r .url)"   # first 100 bytes',
  ],
  positionals: { min: 1, max: 1 },
  async run(context, flags, [reference = ""]) {
    requireReference(reference, "REF");
    const method = (stringFlag(flags, "method") ?? "GET").toUpperCase();
    if (method !== "GET" && method !== "PUT")
      throw new UsageError(`--method takes GET or PUT, got ${JSON.stringify(stringFlag(flags, "method"))}`);
    const expires = stringFlag(flags, "expires");
    const expiresInSeconds = Math.ceil((expires === undefined ? 3_600_000 : parseDurationFlag(expires, "expires")) / 1000);
    const contentType = stringFlag(flags, "content-type");
    const signed = await context.client().createSignedUrl(reference, {
      method,
      expiresInSeconds,
      signal: context.signal,
      ...(contentType === undefined ? {} : { contentType }),
    });
    const headers = Object.entries(signed.requiredHeaders).map(([name, value]) => `${name}: ${value}`);
    context.out.result(
      { url: signed.url, method, requiredHeaders: signed.requiredHeaders, expireTime: signed.expireTime?.toISOString() ?? null },
      [signed.url, ...headers].join("\n"),
    );
  },
};
