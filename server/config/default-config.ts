// The embedded default config: served when there is no --config and no
// STOWD_CONFIG. It is examples/local.yaml verbatim (a test checks the two are
// equal), parsed by the same loader as any file, so the default and the
// example can never drift apart. A constant rather than a file read at start,
// so the daemon needs nothing but its code to run.
export const DEFAULT_CONFIG_SOURCE = "(embedded default: examples/local.yaml)";

export const DEFAULT_CONFIG_YAML = `# stowd's embedded default: what it serves when no config file is given.
# server/config/default-config.ts holds this same text; a test keeps them equal.
#   file://container/key  ->  ./data/container/key on local disk
#   mem://container/key   ->  memory, gone when the daemon stops
storage:
  type: local
  stow:
    kind: local
    config:
      path: ./data # relative to the working directory; --data-dir / STOWD_DATA_DIR override it
  # Any container name works, so nothing has to be created first.
  enable-multicontainer: true
  limits:
    # 0 = no download limit. Flyte's default is 2 (MiB), a guard for the memory
    # of Flyte's Go processes; this default is for trying stowd out with large
    # objects. A config file that leaves the key out gets Flyte's 2.
    maxDownloadMBs: 0
  schemes:
    mem: {} # mem:// served from memory, besides the primary file://
# stowd's own settings; these are the built-in defaults.
server:
  grpcAddress: 127.0.0.1:50051 # gRPC (grpc-js), with reflection and grpc.health.v1
  httpAddress: 127.0.0.1:8080 # Connect, gRPC-Web, /healthz
  shutdownGrace: 10s # how long running calls may finish after SIGINT/SIGTERM
  maxMessageMBs: 16 # largest single gRPC message, either port
  maxUploadMBs: 0 # largest object WriteRaw stores; 0 = unlimited
  logLevel: info # debug, info, warn, error
  # Resource bounds; exceeding one is RESOURCE_EXHAUSTED naming it (docs/operations.md: Resource bounds).
  maxConcurrentCalls: 1000 # calls in progress across both ports; 0 = unlimited
  maxStreamsPerConnection: 100 # HTTP/2 concurrent streams per client connection
  maxInFlightMBs: 64 # data bytes held between stores and clients; streams wait beyond it; 0 = unlimited
  idleStreamTimeout: 60s # a stream with no message either way for this long is cancelled; 0 = none
  headersTimeout: 10s # a new connection must send a request's headers within this, or it is closed; 0 = none
  idleConnectionTimeout: 5m # a connection with no call in progress for this long is closed; 0 = never
  defaultDeadline: 1h # deadline of a call whose client set none; 0 = none
  maxDeadline: 24h # caps a client's deadline; 0 = no cap
  readinessTimeout: 2s # /readyz: how long each backend's probe may take
  # The web console is at http://127.0.0.1:8080/console/ (server.console.enabled; on for a loopback address).
  # Daemon-signed URLs for file:// and mem:// (stowd sign; the console's uploads with progress): give a key file
  # holding keys: [{id: "k1", secret: "<openssl rand -base64 32>"}].
  # signedUrls:
  #   keyFile: ./signing-keys.yaml
`;
