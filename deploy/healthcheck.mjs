// The container image's HEALTHCHECK: GET /healthz on the daemon's HTTP port,
// exit 0 on 200 and 1 otherwise (503 while stopping, refused, a failed
// handshake, or no answer within 3 s). It finds the port as the daemon does:
// STOWD_HTTP_ADDRESS, else server.httpAddress in the STOWD_CONFIG file, else
// 127.0.0.1:8080; and it speaks https when that file has server.tls. Flags
// after `serve` are not visible here: a daemon moved by flags alone needs
// STOWD_HEALTHCHECK_URL, which overrides all of it. /healthz needs no
// credentials, so none are sent.
import { readFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { get as httpsGet } from "node:https";
import process from "node:process";
import { URL } from "node:url";
import { parse } from "yaml";

/** A key of a YAML map, matched case-insensitively as stowd's config reader matches keys. */
function key(map, name) {
  if (map === null || typeof map !== "object") return undefined;
  const found = Object.keys(map).find((k) => k.toLowerCase() === name.toLowerCase());
  return found === undefined ? undefined : map[found];
}

function fail(message) {
  process.stderr.write(`healthcheck: ${message}\n`);
  process.exit(1);
}

function urlFromConfig() {
  const file = process.env.STOWD_CONFIG;
  let server;
  if (file) {
    try {
      server = key(parse(readFileSync(file, "utf8")), "server");
    } catch (err) {
      fail(`cannot read the config ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const address = process.env.STOWD_HTTP_ADDRESS || key(server, "httpAddress") || "127.0.0.1:8080";
  // A wildcard listen address is reached on loopback.
  const local = String(address).replace(/^(0\.0\.0\.0|\[::\]|):/, "127.0.0.1:");
  const tls = key(key(server, "tls"), "certFile") !== undefined;
  return `${tls ? "https" : "http"}://${local}/healthz`;
}

const url = new URL(process.env.STOWD_HEALTHCHECK_URL || urlFromConfig());
const loopback = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname);
const request = (url.protocol === "https:" ? httpsGet : httpGet)(
  url,
  {
    timeout: 3000,
    // On loopback the certificate is not checked: it names the service's DNS
    // names (not 127.0.0.1) and its CA is usually not in the image, the check
    // sends nothing secret and reads only a status code, and whoever answers
    // on the container's own loopback is inside the container already. Any
    // other host is verified as usual (NODE_EXTRA_CA_CERTS adds a CA).
    rejectUnauthorized: !loopback,
  },
  (response) => {
    response.resume();
    process.exitCode = response.statusCode === 200 ? 0 : 1;
  },
);
request.on("timeout", () => request.destroy(new Error(`no answer within 3 s`)));
request.on("error", (err) => {
  process.stderr.write(`healthcheck: ${url.href}: ${err.message}\n`);
  process.exitCode = 1;
});
