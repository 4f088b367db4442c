// The signer alone: a URL's path names exactly the object it was signed for,
// for references whose container is empty, holds "@" or ":", or whose key
// holds "//", "%", spaces or unicode; the clock decides expiry; GET URLs take
// no PUT-only values; parameters given twice are refused.
import { describe, expect, it } from "vitest";
import { isStowdError } from "../../common/errors.js";
import { parseReference, formatReference } from "../../server/references/reference.js";
import { SignedUrlRefusal } from "../../server/signed-urls/signed-url-refusal.js";
import { createUrlSigner } from "../../server/signed-urls/url-signer.js";
import { SECRET_A, SECRET_B } from "./signed-url-daemon.js";

let now = 1_800_000_000;
const signer = createUrlSigner({
  keys: () => [
    { id: "new", secret: SECRET_B },
    { id: "old", secret: SECRET_A },
  ],
  baseUrl: () => "https://stowd.example:8081/prefix",
  now: () => now,
});

function verify(url: string) {
  const parsed = new URL(url);
  return signer.verify(parsed.pathname.replace(/^\/prefix/, ""), parsed.searchParams);
}

function refusal(fn: () => unknown): SignedUrlRefusal {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SignedUrlRefusal);
    return err as SignedUrlRefusal;
  }
  return expect.fail("expected a refusal");
}

describe("the URL signer", () => {
  it("names exactly the signed object in the path, for awkward containers and keys", () => {
    const references = [
      "mem://bucket/plain.txt",
      "file:///no-container/k",
      "redis://127.0.0.1:6379/a/b",
      "abfs://container@account.dfs.core.windows.net/x",
      "mem://bucket/a//b/ c%25 é+?.bin".replace("?", "%3F"),
    ];
    for (const reference of references) {
      const ref = parseReference(reference);
      const { url } = signer.sign(ref, { method: "GET", expiresInSeconds: 60, contentType: "" });
      expect(url.startsWith("https://stowd.example:8081/prefix/signed/")).toBe(true);
      const verified = verify(url);
      expect(verified.reference, reference).toBe(formatReference(ref, ref.key));
      expect(verified.ref, reference).toEqual(ref);
    }
  });

  it("signs with the first key, verifies with every listed one, and refuses after the expiry", () => {
    const { url, expires } = signer.sign(parseReference("mem://b/k"), {
      method: "PUT",
      expiresInSeconds: 10,
      contentType: "text/plain",
      contentLength: 3,
      signer: "team-a",
    });
    expect(expires.getTime()).toBe((now + 10) * 1000);
    expect(new URL(url).searchParams.get("X-Stowd-Key-Id")).toBe("new");
    expect(verify(url)).toMatchObject({ method: "PUT", contentType: "text/plain", contentLength: 3, signer: "team-a", keyId: "new" });
    now += 10;
    expect(verify(url).expires).toBe(now);
    now += 1;
    expect(refusal(() => verify(url)).reason).toBe("EXPIRED");
  });

  it("refuses PUT-only values on a GET URL, an expiry over 7 days, and a parameter given twice", () => {
    const ref = parseReference("mem://b/k");
    for (const extra of [{ contentType: "text/plain" }, { contentLength: 1 }, { contentMd5: new Uint8Array(16) }]) {
      let err: unknown;
      try {
        signer.sign(ref, { method: "GET", expiresInSeconds: 60, contentType: "", ...extra });
      } catch (e) {
        err = e;
      }
      expect(isStowdError(err, "INVALID_ARGUMENT")).toBe(true);
    }
    expect(() => signer.sign(ref, { method: "GET", expiresInSeconds: 8 * 86_400, contentType: "" })).toThrow(/1 s to 7 days/);
    const { url } = signer.sign(ref, { method: "GET", expiresInSeconds: 60, contentType: "" });
    const twice = refusal(() => verify(`${url}&X-Stowd-Method=GET`));
    expect([twice.status, twice.reason, twice.message]).toEqual([
      400,
      "MALFORMED_URL",
      "not a complete signed URL: X-Stowd-Method is given 2 times; use it exactly as CreateSignedUrl returned it",
    ]);
    // Other parameters (a cache buster) are not the URL's business.
    expect(verify(`${url}&t=1`).reference).toBe("mem://b/k");
  });
});
