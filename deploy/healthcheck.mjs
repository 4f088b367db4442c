// The container image's HEALTHCHECK: GET /healthz on the daemon's HTTP port,
// exit 0 on 200 and 1 otherwise (503 while stopping, refused, or no answer
// within 3 s). The port comes from STOWD_HTTP_ADDRESS (default 8080, as in
// deploy/container.yaml); a config file that moves it needs
// STOWD_HEALTHCHECK_URL as well.
import { get } from "node:http";
import process from "node:process";

const address = process.env.STOWD_HTTP_ADDRESS || "127.0.0.1:8080";
// A wildcard listen address is reached on loopback.
const local = address.replace(/^(0\.0\.0\.0|\[::\]|):/, "127.0.0.1:");
const url = process.env.STOWD_HEALTHCHECK_URL || `http://${local}/healthz`;

const request = get(url, { timeout: 3000 }, (response) => {
  response.resume();
  process.exitCode = response.statusCode === 200 ? 0 : 1;
});
request.on("timeout", () => request.destroy(new Error(`no answer from ${url} within 3 s`)));
request.on("error", (err) => {
  process.stderr.write(`healthcheck: ${url}: ${err.message}\n`);
  process.exitCode = 1;
});
