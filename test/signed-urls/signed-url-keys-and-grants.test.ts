// Whose URLs a daemon honours: without server.signedUrls it signs none (and
// says which keys to set); keys rotate with overlap through the key file and
// SIGHUP's reload; with auth on, a URL's signer must hold the grants for it
// when it is signed and still hold them, in the current token file, when it
// is used.
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientRejection } from "../helpers/rejections.js";
import { writeTokenFile, type TokenSpec } from "../security/secure-daemon.js";
import { httpRequest } from "./plain-http.js";
import { SECRET_A, SECRET_B, startSignedUrlDaemon, type SignedUrlDaemon } from "./signed-url-daemon.js";

describe("without server.signedUrls", () => {
  let d: SignedUrlDaemon;

  beforeAll(async () => {
    d = await startSignedUrlDaemon({ signedUrls: null });
  });

  afterAll(async () => {
    await d?.close();
  });

  it("file:// and mem:// answer UNIMPLEMENTED naming server.signedUrls.keys and keyFile, and declare no signing", async () => {
    const client = d.client();
    for (const reference of ["file://bucket/k", "mem://bucket/k"]) {
      const err = await clientRejection(client.createSignedUrl(reference, { method: "GET", expiresInSeconds: 60 }));
      expect(err.code).toBe(Code.Unimplemented);
      expect(err.message).toContain("server.signedUrls.keys or server.signedUrls.keyFile");
    }
    const info = await client.serverInfo();
    expect(info.backends.map((b) => [b.scheme, b.capabilities?.signedUrls])).toEqual([
      ["file", false],
      ["mem", false],
    ]);
    // Nothing is served under /signed/ either.
    expect((await httpRequest(`${d.httpUrl}/signed/mem/bucket/k`)).status).toBe(404);
  });
});

describe("key rotation through server.signedUrls.keyFile", () => {
  let dir: string;
  let keyFile: string;
  let d: SignedUrlDaemon;
  const writeKeys = (keys: Array<{ id: string; secret: string }>) => writeFileSync(keyFile, stringify({ keys }));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stowd-keys-"));
    keyFile = join(dir, "signing-keys.yaml");
    writeKeys([{ id: "2026-11", secret: SECRET_A }]);
    d = await startSignedUrlDaemon({ signedUrls: { keyFile } });
  });

  afterAll(async () => {
    await d?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("declares signing; a URL of the old key verifies while it is listed, and is refused as an unknown key id once removed", async () => {
    const client = d.client();
    expect((await client.serverInfo()).backends.every((b) => b.capabilities?.signedUrls === true)).toBe(true);
    await client.write("file://bucket/rotated", "rotated object");
    const old = await client.createSignedUrl("file://bucket/rotated", { method: "GET", expiresInSeconds: 600 });
    expect(new URL(old.url).searchParams.get("X-Stowd-Key-Id")).toBe("2026-11");

    // Rotation step 1: the new key first (it signs), the old one kept (it still verifies).
    writeKeys([
      { id: "2026-12", secret: SECRET_B },
      { id: "2026-11", secret: SECRET_A },
    ]);
    await d.daemon.reload();
    const fresh = await client.createSignedUrl("file://bucket/rotated", { method: "GET", expiresInSeconds: 600 });
    expect(new URL(fresh.url).searchParams.get("X-Stowd-Key-Id")).toBe("2026-12");
    for (const url of [old.url, fresh.url]) {
      const res = await httpRequest(url);
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe("rotated object");
    }

    // A broken key file is refused as a whole: the keys in force stay.
    writeFileSync(keyFile, stringify({ keys: [{ id: "2026-12", secret: "too short" }] }));
    await expect(d.daemon.reload()).rejects.toThrow(/at least 32/);
    expect((await httpRequest(old.url)).status).toBe(200);

    // Step 2, once the old key's URLs expired: remove it.
    writeKeys([{ id: "2026-12", secret: SECRET_B }]);
    await d.daemon.reload();
    const refused = await httpRequest(old.url);
    expect(refused.status).toBe(403);
    expect(refused.headers["x-stowd-reason"]).toBe("UNKNOWN_KEY_ID");
    expect(refused.body.toString()).toContain('"2026-11"');
    expect((await httpRequest(fresh.url)).status).toBe(200);
  });
});

describe("with auth on", () => {
  const admin: TokenSpec = { name: "admin", token: "admin-token", grants: [{ operations: ["admin"], prefixes: ["*"] }] };
  const teamA: TokenSpec = {
    name: "team-a",
    token: "team-a-token",
    grants: [{ operations: ["read", "write", "sign"], prefixes: ["mem://bucket/team-a/"] }],
  };
  const reader: TokenSpec = {
    name: "reader",
    token: "reader-token",
    grants: [{ operations: ["read", "sign"], prefixes: ["mem://bucket/"] }],
  };
  let tokenFile: string;
  let d: SignedUrlDaemon;

  beforeAll(async () => {
    tokenFile = writeTokenFile([admin, teamA, reader]);
    d = await startSignedUrlDaemon({ auth: { tokenFile } });
  });

  afterAll(async () => {
    await d?.close();
  });

  it("a scoped token signs within its prefix only, and its URL names it as the signer", async () => {
    const client = d.client(teamA.token);
    const inside = await client.createSignedUrl("mem://bucket/team-a/file", { method: "PUT", expiresInSeconds: 60 });
    expect(new URL(inside.url).searchParams.get("X-Stowd-Signer")).toBe("team-a");
    expect((await httpRequest(inside.url, { method: "PUT", body: "by team a" })).status).toBe(200);
    const outside = await clientRejection(client.createSignedUrl("mem://bucket/team-b/file", { method: "GET", expiresInSeconds: 60 }));
    expect(outside.code).toBe(Code.PermissionDenied);
    // Read and sign, but no write: no PUT URL.
    const noWrite = await clientRejection(
      d.client(reader.token).createSignedUrl("mem://bucket/x", { method: "PUT", expiresInSeconds: 60 }),
    );
    expect(noWrite.code).toBe(Code.PermissionDenied);
  });

  it("refuses a URL whose signer was removed from the token file (SIGHUP reload), or lost the grant", async () => {
    await d.client(admin.token).write("mem://bucket/team-a/kept", "kept");
    const byTeamA = await d.client(teamA.token).createSignedUrl("mem://bucket/team-a/kept", { method: "GET", expiresInSeconds: 600 });
    const byReader = await d.client(reader.token).createSignedUrl("mem://bucket/team-a/kept", { method: "GET", expiresInSeconds: 600 });
    expect((await httpRequest(byTeamA.url)).status).toBe(200);
    expect((await httpRequest(byReader.url)).status).toBe(200);

    // team-a is removed; reader keeps its name but loses read on team-a/.
    writeTokenFile([admin, { ...reader, grants: [{ operations: ["read", "sign"], prefixes: ["mem://bucket/other/"] }] }], [], tokenFile);
    await d.daemon.reload();
    const removed = await httpRequest(byTeamA.url);
    expect(removed.status).toBe(403);
    expect(removed.headers["x-stowd-reason"]).toBe("SIGNER_NOT_ALLOWED");
    expect(removed.body.toString()).toContain("team-a, who signed this URL, is no longer in the token file");
    const narrowed = await httpRequest(byReader.url);
    expect(narrowed.status).toBe(403);
    expect(narrowed.headers["x-stowd-reason"]).toBe("SIGNER_NOT_ALLOWED");
    expect(narrowed.body.toString()).toContain("may no longer read mem://bucket/team-a/kept");
  });
});
