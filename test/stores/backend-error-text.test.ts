// Error messages a client receives for a failed S3, Azure or GCS call name
// the reference, what failed and what to do, but never where the backend
// lives (endpoint URL, host, IP address, port) or which storage account it
// uses; the daemon's log line for the failure has them. Fed with errors
// shaped like the SDKs' own, carrying the endpoint the way they do.
import { RestError } from "@azure/storage-blob";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StowdError } from "../../common/errors.js";
import { redirectLog } from "../../server/observability/log.js";
import { fromAzureError } from "../../server/stores/azure/errors.js";
import { withoutWhereabouts } from "../../server/stores/kit/backend-error-text.js";
import { fromGcsError } from "../../server/stores/gcs/errors.js";
import { fromS3Error, noSuchBucket } from "../../server/stores/s3/errors.js";

let lines: Array<Record<string, unknown>> = [];
let restore: () => void;
beforeEach(() => {
  lines = [];
  restore = redirectLog({ write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
});
afterEach(() => restore());

/** The message names the reference and none of `secrets`; the log's last line names them all. */
function expectHidden(err: StowdError, reference: string, secrets: string[], logged = true): void {
  expect(err.message).toContain(reference);
  for (const secret of secrets) expect(err.message.toLowerCase(), err.message).not.toContain(secret.toLowerCase());
  if (!logged) return;
  const line = lines.at(-1);
  expect(line).toMatchObject({ level: "warn", msg: "backend call failed", reason: err.reason });
  const text = JSON.stringify(line);
  for (const secret of secrets) expect(text).toContain(secret);
}

describe("s3", () => {
  const endpoint = "http://10.20.30.40:9000";
  const ctx = { reference: "s3://bkt/a/b", bucket: "bkt", endpoint, operation: "HEAD" };
  const hidden = ["10.20.30.40", ":9000"];

  it("a refused connection is UNAVAILABLE without the endpoint", () => {
    const sdk = Object.assign(new Error("connect ECONNREFUSED 10.20.30.40:9000"), { code: "ECONNREFUSED" });
    const err = fromS3Error(sdk, ctx);
    expect(err.reason).toBe("BACKEND_UNAVAILABLE");
    expect(err.message).toBe(
      "HEAD s3://bkt/a/b failed: the s3 backend is unavailable (ECONNREFUSED: connect ECONNREFUSED <endpoint>); retry later (the daemon's log names the endpoint)",
    );
    expectHidden(err, ctx.reference, hidden);
    expect(err.facts.cause).toBe(sdk);
  });

  it("a host name, a 5xx answer quoting a URL, an IPv6 address and the retry loop's timeout lose the endpoint too", () => {
    const named = { ...ctx, endpoint: "https://minio.storage.internal:9443" };
    const dns = Object.assign(new Error("getaddrinfo ENOTFOUND minio.storage.internal"), { code: "ENOTFOUND" });
    expectHidden(fromS3Error(dns, named), ctx.reference, ["minio.storage.internal", "9443"]);
    const answer = Object.assign(
      new Error("We encountered an internal error at https://minio.storage.internal:9443/bkt/a/b. Please try again."),
      {
        name: "InternalError",
        $metadata: { httpStatusCode: 503 },
      },
    );
    const unavailable = fromS3Error(answer, named);
    expect(unavailable.reason).toBe("BACKEND_UNAVAILABLE");
    expectHidden(unavailable, ctx.reference, ["minio.storage.internal", "9443"]);
    const v6 = Object.assign(new Error("connect ECONNREFUSED fd00::5:9000"), { code: "ECONNREFUSED" });
    expectHidden(fromS3Error(v6, { ...ctx, endpoint: "http://[fd00::5]:9000" }), ctx.reference, ["fd00::5", "9000"]);
    const timeout = new StowdError(
      "DEADLINE_EXCEEDED",
      `HEAD s3://bkt/a/b at ${endpoint}: the s3 backend did not answer in time (3 attempts)`,
      { backend: "s3" },
    );
    const passed = fromS3Error(timeout, ctx);
    expect(passed.reason).toBe("DEADLINE_EXCEEDED");
    expect(passed.message).toBe("HEAD s3://bkt/a/b: the s3 backend did not answer in time (3 attempts)");
    expectHidden(passed, ctx.reference, hidden);
    // A StowdError without the endpoint passes as it is.
    const plain = new StowdError("PRECONDITION_FAILED", "s3://bkt/a/b changed", {});
    expect(fromS3Error(plain, ctx)).toBe(plain);
  });

  it("a missing bucket, refused credentials and unexpected answers keep their advice but not the endpoint", () => {
    const missing = noSuchBucket(ctx);
    expect(missing.message).toBe(
      'bucket "bkt" does not exist on the s3 backend; stowd does not create buckets: create it, or correct the container of s3://bkt/a/b',
    );
    expectHidden(missing, ctx.reference, hidden);
    const denied = Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
    const err = fromS3Error(denied, ctx);
    expect(err.reason).toBe("PERMISSION_DENIED");
    expect(err.message).toContain("check the S3 credentials and the bucket policy");
    expectHidden(err, ctx.reference, hidden);
    const odd = Object.assign(new Error("unexpected redirect to http://10.20.30.40:9000/bkt"), {
      name: "PermanentRedirect",
      $metadata: { httpStatusCode: 301 },
    });
    expectHidden(fromS3Error(odd, ctx), ctx.reference, hidden);
  });

  it("answers a caller caused (not found) are not logged as backend failures", () => {
    const err = fromS3Error(Object.assign(new Error("NoSuchKey"), { name: "NoSuchKey", $metadata: { httpStatusCode: 404 } }), ctx);
    expect(err.reason).toBe("NOT_FOUND");
    expect(lines).toEqual([]);
  });
});

describe("azure", () => {
  const endpoint = "http://127.0.0.1:10000/secretacct";
  const ctx = { reference: "abfs://box/k", signal: new AbortController().signal, container: "box", account: "secretacct", endpoint };
  const hidden = ["127.0.0.1", "10000", "secretacct"];

  it("an unreachable endpoint is UNAVAILABLE without the endpoint or the account", () => {
    const err = fromAzureError(new RestError("connect ECONNREFUSED 127.0.0.1:10000", { code: "ECONNREFUSED" }), ctx);
    expect(err.reason).toBe("BACKEND_UNAVAILABLE");
    expect(err.message).toBe(
      "the azure backend could not be reached for abfs://box/k (ECONNREFUSED); retry later (the daemon's log names the endpoint)",
    );
    expectHidden(err, ctx.reference, hidden);
  });

  it("a missing container names the container, not the account or endpoint", () => {
    const err = fromAzureError(
      new RestError("The specified container does not exist.\nRequestId:1", { code: "ContainerNotFound", statusCode: 404 }),
      ctx,
    );
    expect(err.reason).toBe("NOT_FOUND");
    expect(err.message).toContain('container "box" does not exist');
    expectHidden(err, ctx.reference, hidden);
  });

  it("5xx answers and errors from outside the SDK lose the endpoint and account", () => {
    expectHidden(fromAzureError(new RestError("Server Busy", { code: "ServerBusy", statusCode: 503 }), ctx), ctx.reference, hidden);
    const raw = new Error("request to https://secretacct.blob.core.windows.net/box/k failed: socket hang up from 127.0.0.1:10000");
    const err = fromAzureError(raw, ctx);
    expect(err.reason).toBe("INTERNAL");
    expectHidden(err, ctx.reference, [...hidden, "blob.core.windows.net"]);
    const odd = fromAzureError(new RestError("Unexpected answer from secretacct", { code: "Weird", statusCode: 418 }), ctx);
    expectHidden(odd, ctx.reference, hidden);
  });
});

describe("gcs", () => {
  const endpoint = "http://gcs.corp.example:4443";
  const ctx = { reference: "gs://bkt/o", doing: "reading", endpoint };
  const hidden = ["gcs.corp.example", "4443", "10.9.8.7"];

  it("a refused connection, a 5xx, throttling and a timeout name no endpoint", () => {
    const refused = Object.assign(
      new Error("request to http://gcs.corp.example:4443/storage/v1/b/bkt/o failed, reason: connect ECONNREFUSED 10.9.8.7:4443"),
      {
        code: "ECONNREFUSED",
      },
    );
    const err = fromGcsError(refused, ctx);
    expect(err.reason).toBe("BACKEND_UNAVAILABLE");
    expect(err.message).toBe("cannot reach GCS (ECONNREFUSED) while reading gs://bkt/o; retry later (the daemon's log names the endpoint)");
    expectHidden(err, ctx.reference, hidden.slice(0, 2));
    expectHidden(
      fromGcsError(Object.assign(new Error("backend at 10.9.8.7:4443 (http://gcs.corp.example:4443) is down"), { code: 503 }), ctx),
      ctx.reference,
      hidden,
    );
    expectHidden(fromGcsError(Object.assign(new Error("Too many requests"), { code: 429 }), ctx), ctx.reference, hidden.slice(0, 2));
    expectHidden(
      fromGcsError(Object.assign(new Error("network timeout at: http://gcs.corp.example:4443/x"), { type: "request-timeout" }), ctx),
      ctx.reference,
      hidden.slice(0, 2),
    );
    const passed = fromGcsError(new StowdError("DEADLINE_EXCEEDED", `reading gs://bkt/o at ${endpoint}: timed out`, {}), ctx);
    expect(passed.message).toBe("reading gs://bkt/o: timed out");
  });

  it("an unexpected error keeps its text without the whereabouts", () => {
    const err = fromGcsError(new Error("boom talking to gcs.corp.example:4443"), ctx);
    expect(err.reason).toBe("INTERNAL");
    expect(err.message).toBe("the gcs backend failed while reading gs://bkt/o: boom talking to <endpoint>");
    expectHidden(err, ctx.reference, hidden.slice(0, 2));
  });
});

describe("withoutWhereabouts", () => {
  it("keeps one bounded line, and leaves text without whereabouts as it was", () => {
    const where = { backend: "s3", endpoint: "http://h:1" };
    expect(withoutWhereabouts("Access Denied", where)).toBe("Access Denied");
    expect(withoutWhereabouts("first line\nsecond line", where)).toBe("first line");
    expect(withoutWhereabouts("x".repeat(1000), where)).toHaveLength(303);
    expect(withoutWhereabouts("see https://a.b/c?sig=abc and 192.168.0.1", where)).toBe("see <endpoint> and <address>");
  });
});
