// Loopback ports: a free one to hand to a child, and waiting until it listens.
import { connect } from "node:net";
import { childFailure, isRunning, type Child } from "./children.js";
import { freePort } from "../../test/helpers/free-port.js";
export { freePort };


export async function waitForPort(port: number, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        done(true);
      });
      socket.once("error", () => done(false));
    });
    if (ok) return;
    if (!isRunning(child)) throw childFailure(child, "exited before it listened");
    if (Date.now() > deadline) throw childFailure(child, `did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
