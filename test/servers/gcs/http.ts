// Small HTTP helpers shared by the GCS test server's handlers.
import type { IncomingMessage, ServerResponse } from "node:http";
import { GcsHttpError, type Model } from "./model.js";

export interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** http://host:port as the client addressed the server. */
  origin: string;
  model: Model;
}

/** Thrown when the client went away mid-request: nothing is answered or committed. */
export class ClientGone extends Error {}

/** The whole request body; rejects with ClientGone when the client disconnects before the end. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let done = false;
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      done = true;
      resolve(Buffer.concat(chunks));
    });
    req.on("error", () => reject(new ClientGone()));
    req.on("close", () => {
      if (!done) reject(new ClientGone());
    });
  });
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req);
  if (body.length === 0) return {};
  try {
    const parsed = JSON.parse(body.toString("utf8")) as unknown;
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    return parsed as Record<string, unknown>;
  } catch {
    throw new GcsHttpError(400, "Parse Error: the request body is not a JSON object", "parseError");
  }
}

// GCS answers "application/json; charset=UTF-8"; the SDK then parses the body as text, as it does against Google.
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=UTF-8", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: GcsHttpError): void {
  sendJson(res, err.status, err.body());
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(",") : value;
}
