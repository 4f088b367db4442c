# syntax=docker/dockerfile:1
# stowd's container image: `docker build -t stowd:0.1.0 .`
# The entry point is the stowd CLI: the default command is `serve` (the daemon,
# as npm start runs it); `docker run stowd:0.1.0 ls file://bucket/` etc. run
# client commands. Config: /etc/stowd/stowd.yaml (deploy/container.yaml: file://
# on the /data volume, mem://, gRPC on 50051, HTTP on 8080, both on 0.0.0.0),
# STOWD_CONFIG for another file, STOWD_* env vars for single keys.
#
# Secure by default: the daemon listens on every interface, so it serves only
# with TLS and authentication, or when told explicitly that cleartext is
# meant. A plain `docker run stowd:0.1.0` exits 2 saying what is missing.
#   1. TLS + a token: mount a certificate and key as /etc/stowd/tls/tls.crt and
#      tls.key (readable by uid 10001), select the TLS config, give the token:
#        docker run -p 50051:50051 -p 8080:8080 -v stowd-data:/data \
#          -v "$PWD/tls:/etc/stowd/tls:ro" -e STOWD_CONFIG=/etc/stowd/stowd-tls.yaml \
#          -e STOWD_AUTH_TOKEN="$(cat token)" stowd:0.1.0
#      (deploy/container-tls.yaml; a config of your own can use
#      server.auth.tokenFile or mutual TLS instead). Clients:
#        stowd --address https://HOST:50051 --ca-file ca.crt ls file://bucket/  (STOWD_TOKEN=...)
#   2. Cleartext without auth, for a trusted network or a mesh that terminates
#      TLS and authenticates: -e STOWD_INSECURE=true (it logs a warning).
#        docker run -p 50051:50051 -p 8080:8080 -v stowd-data:/data -e STOWD_INSECURE=true stowd:0.1.0
# HEALTHCHECK (deploy/healthcheck.mjs) probes /healthz over https when the
# config has server.tls, http otherwise.
ARG NODE_IMAGE=node:20-alpine

# ---- build: compile TypeScript into dist/ (npm run build) ------------------
# npm ci runs without scripts here and below: the package's `prepare` builds
# the web console from sources not copied yet (npm run build does it, into
# dist/console/dist/), and the deps stage has no sources at all.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/build-console.mjs scripts/
COPY gen gen
COPY types types
COPY common common
COPY server server
COPY client client
COPY cli cli
COPY console console
RUN npm run build

# ---- deps: production dependencies only -----------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

# ---- runtime: node, node_modules, dist/ -- no sources, no dev tools -------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    STOWD_CONFIG=/etc/stowd/stowd.yaml
# A fixed numeric non-root user, so Kubernetes' runAsNonRoot can verify it.
RUN addgroup -S -g 10001 stowd \
 && adduser -S -D -H -u 10001 -G stowd -s /sbin/nologin stowd \
 && mkdir -p /data \
 && chown stowd:stowd /data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY deploy/container.yaml /etc/stowd/stowd.yaml
COPY deploy/container-tls.yaml /etc/stowd/stowd-tls.yaml
COPY deploy/healthcheck.mjs ./healthcheck.mjs
USER 10001:10001
# file:// objects live here: keep them on a volume, not in the container layer.
VOLUME ["/data"]
# gRPC (grpc-js, reflection, grpc.health.v1) and HTTP (Connect, gRPC-Web, /healthz, /metrics).
EXPOSE 50051 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "/app/healthcheck.mjs"]
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve"]
