// A free loopback port to hand to a server started later (a child process,
// Ceph, redis-server): bound once to let the kernel pick it, then released.
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";

export async function freePort(host = "127.0.0.1"): Promise<number> {
  const server = createServer();
  server.unref();
  server.listen(0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}
