// Loopback ports: a free one to hand to a child, and waiting until it listens.
import { childFailure, type Child } from "./children.js";
import { isListening, waitUntilReady } from "../../test/helpers/child-process.js";
import { freePort } from "../../test/helpers/free-port.js";
export { freePort };

export async function waitForPort(port: number, child: Child, timeoutMs = 30_000): Promise<void> {
  const readiness = await waitUntilReady(child, () => isListening(port), timeoutMs, 50);
  if (readiness === "exited") throw childFailure(child, "exited before it listened");
  if (readiness === "timed out") throw childFailure(child, `did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
