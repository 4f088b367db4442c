// Plain HTTP/1.1 GET and PUT with node:http, as a browser or curl would use a
// signed URL: the body consumed and discarded (or checked), the upload written
// in 1 MiB chunks with backpressure. The bare node:http file server and the
// daemon-signed URLs are both measured with these, so they differ only in the
// server.
import { once } from "node:events";
import * as http from "node:http";
import { verifyAt, writeHttpBody } from "./grpc-calls.js";

/** One kept-alive connection at a time, reused across calls (as a browser would). */
export function createHttp1Agent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 1 });
}

async function responseOf(req: http.ClientRequest): Promise<http.IncomingMessage> {
  const [res] = (await once(req, "response")) as [http.IncomingMessage];
  req.on("error", () => undefined); // from here on, a failure shows as the body's error
  return res;
}

/** The whole body as text (small answers: errors, a PUT's answer). */
async function textOf(res: http.IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of res as AsyncIterable<Buffer>) text += chunk.toString("utf8");
  return text;
}

/** GETs `url`, counting the body's bytes (checked against `verify` when given) and discarding them. */
export async function http1Get(agent: http.Agent, url: string, label: string, verify?: Buffer): Promise<number> {
  const req = http.get(url, { agent });
  const res = await responseOf(req);
  if (res.statusCode !== 200) throw new Error(`${label}: GET answered HTTP ${res.statusCode}: ${(await textOf(res)).trim()}`);
  let offset = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (verify !== undefined) verifyAt(verify, offset, chunk, label);
    offset += chunk.length;
  }
  if (!res.complete) throw new Error(`${label}: GET body cut after ${offset} bytes`);
  return offset;
}

/** PUTs `payload` to `url` with the given headers; returns the answer's text. */
export async function http1Put(
  agent: http.Agent,
  url: string,
  payload: Buffer,
  headers: Record<string, string>,
  label: string,
): Promise<string> {
  const req = http.request(url, {
    method: "PUT",
    agent,
    headers: { "content-type": "application/octet-stream", ...headers, "content-length": String(payload.length) },
  });
  const answered = responseOf(req);
  await writeHttpBody(req, payload, answered);
  const res = await answered;
  const text = await textOf(res);
  if (res.statusCode !== 200) throw new Error(`${label}: PUT answered HTTP ${res.statusCode}: ${text.trim()}`);
  return text;
}
