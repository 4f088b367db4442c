// The console's connection to the daemon: the SDK's browser entry over the
// page's own origin (the daemon's HTTP port serves both, so no CORS), with
// the bearer token kept in sessionStorage (gone when the tab closes) when
// the daemon checks callers.
import { createStowdClient, type BackendInfo, type ServerInfo, type StowdClient } from "../../client/browser.js";
import { schemeOf } from "./references.js";

const TOKEN_KEY = "stowd-console-token";

export interface Session {
  client: StowdClient;
  info: ServerInfo;
  /** Whether a token was given (logging out forgets it). */
  hasToken: boolean;
}

/** Connects with `token` (or none) and asks GetServerInfo, which any authenticated caller may: UNAUTHENTICATED means a token is needed. */
export async function openSession(token: string | undefined): Promise<Session> {
  const client = createStowdClient({ baseUrl: window.location.origin, ...(token === undefined ? {} : { token }) });
  const info = await client.serverInfo({ timeoutMs: 15_000 });
  return { client, info, hasToken: token !== undefined };
}

export function storedToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The backend serving a reference's scheme. */
export function backendOf(session: Session, reference: string): BackendInfo | undefined {
  const scheme = schemeOf(reference);
  return session.info.backends.find((b) => b.scheme === scheme);
}

/**
 * Backends whose signed URLs the daemon signs and serves itself (under
 * /signed/ on this port). A cloud's own URLs (S3, GCS, Azure) point at
 * another origin, which the console's CSP (connect-src 'self') refuses, and
 * they cannot be bound to a size (CreateSignedUrl's content_length).
 */
const DAEMON_SIGNED_KINDS = new Set(["memory", "local", "redis"]);

/** Whether transfers of this reference go through signed URLs: the backend's daemon-signed ones. */
export function signsUrls(session: Session, reference: string): boolean {
  const backend = backendOf(session, reference);
  return backend?.capabilities.signedUrls === true && DAEMON_SIGNED_KINDS.has(backend.kind);
}

/** A daemon-signed URL can still name another origin (server.signedUrls.baseUrl behind a proxy): then the SDK is used. */
export function isSameOrigin(url: string): boolean {
  try {
    return new URL(url, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}
