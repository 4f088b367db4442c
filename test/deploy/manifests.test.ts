// The Dockerfile and the Kubernetes example, checked without a Docker engine
// or a cluster: the image builds in stages and runs as a non-root user with a
// HEALTHCHECK, the /data volume and both ports; every file it copies exists
// and is not dockerignored; its configs are secure by default (the default one
// refuses to serve without TLS + auth unless STOWD_INSECURE, the TLS one reads
// the mounted certificate and still wants a token); the Deployment's probes
// (HTTPS /healthz and /readyz), ports, user, token Secret and TLS mount agree
// with the image and the ConfigMap's config; the Secret's placeholder cannot
// serve; the Service exposes both ports onto named container ports.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { ConfigError, loadConfig } from "../../server/config/load-config.js";
import { parseTokenFile } from "../../server/security/token-file.js";
import { REPO_ROOT } from "../cli/stowd-process.js";

interface Instruction {
  keyword: string;
  args: string;
  /** Index of the FROM stage it belongs to. */
  stage: number;
}

/** Dockerfile instructions: comments dropped, backslash continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (current === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(current + line);
    current = "";
  }
  let stage = -1;
  return logical.map((line) => {
    const [keyword = "", ...rest] = line.split(/\s+/);
    if (keyword.toUpperCase() === "FROM") stage++;
    return { keyword: keyword.toUpperCase(), args: rest.join(" "), stage };
  });
}

/** An exec-form (JSON array) argument list. */
function execForm(args: string): string[] {
  return JSON.parse(args) as string[];
}

type Doc = Record<string, unknown>;

async function yamlDocs(path: string): Promise<Doc[]> {
  const docs = parseAllDocuments(await readFile(join(REPO_ROOT, path), "utf8"));
  for (const doc of docs) expect(doc.errors, path).toEqual([]);
  return docs.map((d) => d.toJS() as Doc);
}

let dockerfile: Instruction[];
let finalStage: Instruction[];
let dockerignore: string[];
let k8s: Doc[];
/** The replicated S3 example, deploy/kubernetes/s3/. */
let s3k8s: Doc[];
let dir: string;

beforeAll(async () => {
  dockerfile = parseDockerfile(await readFile(join(REPO_ROOT, "Dockerfile"), "utf8"));
  const last = Math.max(...dockerfile.map((i) => i.stage));
  finalStage = dockerfile.filter((i) => i.stage === last);
  dockerignore = (await readFile(join(REPO_ROOT, ".dockerignore"), "utf8"))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  k8s = [
    ...(await yamlDocs("deploy/kubernetes/configmap.yaml")),
    ...(await yamlDocs("deploy/kubernetes/secret.yaml")),
    ...(await yamlDocs("deploy/kubernetes/deployment.yaml")),
    ...(await yamlDocs("deploy/kubernetes/service.yaml")),
    ...(await yamlDocs("deploy/kubernetes/cert-manager/certificate.yaml")),
  ];
  s3k8s = (
    await Promise.all(
      ["configmap", "secret", "serviceaccount", "deployment", "service", "pdb", "redis"].map((f) =>
        yamlDocs(`deploy/kubernetes/s3/${f}.yaml`),
      ),
    )
  ).flat();
  dir = await mkdtemp(join(tmpdir(), "stowd-deploy-"));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const one = (keyword: string, instructions = finalStage) => {
  const found = instructions.filter((i) => i.keyword === keyword);
  expect(found, keyword).toHaveLength(1);
  return found[0]!;
};

/** The first document of a kind (and name, when given) in a set of manifests; the single-replica example by default. */
function kind(name: string, docs = k8s, metadataName?: string): Doc {
  const doc = docs.find((d) => d.kind === name && (metadataName === undefined || at(d, "metadata.name") === metadataName));
  expect(doc, `${name} ${metadataName ?? ""}`).toBeDefined();
  return doc!;
}

/** loadConfig's ConfigError message, or "" when the config loads. */
async function refusal(file: string, env: NodeJS.ProcessEnv): Promise<string> {
  try {
    await loadConfig(["--config", file], env);
    return "";
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
}

const TOKEN = "0123456789abcdef0123456789abcdef";

// Access into parsed YAML by a dotted path; a missing path gives undefined and fails the expectation that reads it.
const at = (doc: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>((v, k) => (v === undefined || v === null ? undefined : (v as Doc)[k]), doc);

/** What the tests read of the Deployment's container, as the manifest should have it. */
interface Container {
  args: unknown;
  ports: unknown;
  env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  livenessProbe: { httpGet: unknown };
  readinessProbe: { httpGet: unknown; timeoutSeconds: number };
  securityContext: unknown;
}

describe("Dockerfile", () => {
  it("builds in stages: npm run build in one, production-only node_modules in another", () => {
    const froms = dockerfile.filter((i) => i.keyword === "FROM");
    expect(froms.length).toBeGreaterThanOrEqual(3);
    const build = dockerfile.filter((i) => i.stage === 0);
    expect(build.some((i) => i.keyword === "RUN" && i.args.includes("npm run build"))).toBe(true);
    expect(dockerfile.some((i) => i.keyword === "RUN" && /npm ci .*--omit=dev/.test(i.args))).toBe(true);
    const copies = finalStage.filter((i) => i.keyword === "COPY").map((i) => i.args);
    expect(copies).toContain("--from=build /src/dist ./dist");
    expect(copies).toContain("--from=deps /app/node_modules ./node_modules");
    // No sources, tests or dev tools in the runtime stage.
    expect(copies.some((c) => /\b(server|client|cli|test|gen)\b\s/.test(c) && !c.startsWith("--from"))).toBe(false);
  });

  it("runs as a fixed non-root user", () => {
    const user = one("USER").args;
    const uid = user.split(":")[0] ?? "";
    expect(uid).toMatch(/^\d+$/); // numeric, so Kubernetes' runAsNonRoot can check it
    expect(Number(uid)).toBeGreaterThan(0);
    expect(finalStage.findIndex((i) => i.keyword === "USER")).toBeGreaterThan(finalStage.findIndex((i) => i.keyword === "RUN"));
  });

  it("has a HEALTHCHECK that runs the copied healthcheck script", () => {
    const healthcheck = one("HEALTHCHECK").args;
    expect(healthcheck).toMatch(/--interval=\d+s/);
    const command = execForm(healthcheck.slice(healthcheck.indexOf("CMD ") + 4));
    expect(command).toEqual(["node", "/app/healthcheck.mjs"]);
    expect(finalStage.some((i) => i.keyword === "COPY" && i.args === "deploy/healthcheck.mjs ./healthcheck.mjs")).toBe(true);
    expect(one("WORKDIR").args).toBe("/app");
  });

  it("keeps the default local store on a volume and exposes both ports; serve is the default command", () => {
    expect(execForm(one("VOLUME").args)).toEqual(["/data"]);
    expect(one("EXPOSE").args.split(/\s+/).sort()).toEqual(["50051", "8080"]);
    expect(execForm(one("ENTRYPOINT").args)).toEqual(["node", "/app/dist/cli/main.js"]);
    expect(execForm(one("CMD").args)).toEqual(["serve"]);
  });

  it("its default config (STOWD_CONFIG) binds every interface and refuses to serve without TLS + auth unless STOWD_INSECURE=true", async () => {
    const env = one("ENV").args;
    const configPath = /STOWD_CONFIG=(\S+)/.exec(env)?.[1];
    expect(finalStage.some((i) => i.keyword === "COPY" && i.args === `deploy/container.yaml ${configPath}`)).toBe(true);
    const file = join(REPO_ROOT, "deploy/container.yaml");
    const message = await refusal(file, {});
    expect(message).toContain("server.grpcAddress: 0.0.0.0:50051 is not a loopback address");
    expect(message).toContain("no TLS");
    expect(message).toContain("no authentication");
    expect(message).toContain("--insecure (STOWD_INSECURE=true");
    // A token alone is not enough: it would cross the network in cleartext.
    expect(await refusal(file, { STOWD_AUTH_TOKEN: TOKEN })).toContain("no TLS");
    const config = await loadConfig(["--config", file], { STOWD_INSECURE: "true" }, { warn: () => {} });
    expect(config.storage.stow.config.path).toBe("/data");
    expect(config.server.grpcAddress).toBe("0.0.0.0:50051");
    expect(config.server.httpAddress).toBe("0.0.0.0:8080");
    expect(config.server.tls).toBeUndefined();
  });

  it("its TLS config reads the certificate from /etc/stowd/tls/, serves with STOWD_AUTH_TOKEN and differs from the default only in server.tls", async () => {
    const copy = finalStage.find((i) => i.keyword === "COPY" && i.args.startsWith("deploy/container-tls.yaml "));
    expect(copy?.args).toBe("deploy/container-tls.yaml /etc/stowd/stowd-tls.yaml");
    const file = join(REPO_ROOT, "deploy/container-tls.yaml");
    const message = await refusal(file, {});
    expect(message).toContain("no authentication");
    expect(message).not.toContain("no TLS");
    const config = await loadConfig(["--config", file], { STOWD_AUTH_TOKEN: TOKEN });
    expect(config.server.tls).toEqual({ certFile: "/etc/stowd/tls/tls.crt", keyFile: "/etc/stowd/tls/tls.key" });
    expect(config.server.auth).toEqual({ token: TOKEN });
    const [tls] = await yamlDocs("deploy/container-tls.yaml");
    const [plain] = await yamlDocs("deploy/container.yaml");
    delete (tls!.server as Doc).tls;
    expect(tls).toEqual(plain);
  });

  it("documents both ways to run it in its header: TLS + a token, or STOWD_INSECURE=true", async () => {
    const text = await readFile(join(REPO_ROOT, "Dockerfile"), "utf8");
    const header = text.slice(0, text.indexOf("\nARG "));
    for (const needle of [
      "STOWD_CONFIG=/etc/stowd/stowd-tls.yaml",
      "/etc/stowd/tls",
      "STOWD_AUTH_TOKEN",
      "STOWD_INSECURE=true",
      "exits 2",
    ]) {
      expect(header, needle).toContain(needle);
    }
  });

  it("copies only files that exist and that .dockerignore lets through", () => {
    const sources = dockerfile
      .filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from"))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(existsSync(join(REPO_ROOT, source)), source).toBe(true);
      const top = source.split("/")[0];
      expect(dockerignore.includes(top ?? "") || dockerignore.includes(source), source).toBe(false);
    }
    for (const excluded of ["node_modules", "dist", "data", ".git"]) expect(dockerignore).toContain(excluded);
  });
});

describe("Kubernetes example", () => {
  const container = () => at(kind("Deployment"), "spec.template.spec.containers.0") as Container;
  const volume = (name: string) =>
    (at(kind("Deployment"), "spec.template.spec.volumes") as Array<Doc & { name: string }>).find((v) => v.name === name);
  const mountPath = (name: string) => container().volumeMounts.find((m) => m.name === name);
  const envVar = (name: string) => container().env.find((e) => e.name === name);
  const configMapYaml = () => (at(kind("ConfigMap"), "data") as Record<string, string>)["stowd.yaml"] as string;

  it("the Deployment probes /healthz (liveness) and /readyz (readiness) over HTTPS on the image's ports", () => {
    const deployment = kind("Deployment");
    const c = container();
    expect(c.args).toEqual(["serve"]);
    expect(c.ports).toEqual([
      { name: "grpc", containerPort: 50051, protocol: "TCP" },
      { name: "http", containerPort: 8080, protocol: "TCP" },
    ]);
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http", scheme: "HTTPS" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http", scheme: "HTTPS" });
    // /readyz waits up to server.readinessTimeout (2 s) per backend: the probe must wait longer.
    expect(c.readinessProbe.timeoutSeconds).toBeGreaterThan(2);
    expect((at(deployment, "spec.template.metadata.annotations") as Doc)["prometheus.io/scheme"]).toBe("https");
    const user = one("USER").args.split(":")[0];
    expect(at(deployment, "spec.template.spec.securityContext")).toMatchObject({ runAsNonRoot: true, runAsUser: Number(user) });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    // Longer than the daemon's shutdown grace (10 s).
    expect(at(deployment, "spec.template.spec.terminationGracePeriodSeconds")).toBeGreaterThan(10);
    expect(at(deployment, "spec.selector.matchLabels")).toEqual(at(deployment, "spec.template.metadata.labels"));
  });

  it("mounts the ConfigMap where STOWD_CONFIG points, the data volume at /data, and no mount inside another", () => {
    const spec = at(kind("Deployment"), "spec.template.spec") as { volumes: { name: string; configMap?: { name: string } }[] };
    const mounts = Object.fromEntries(container().volumeMounts.map((m) => [m.mountPath, m.name]));
    expect(mounts["/data"]).toBe("data");
    const configEnv = envVar("STOWD_CONFIG")?.value ?? "";
    const configDir = configEnv.slice(0, configEnv.lastIndexOf("/"));
    const configVolume = spec.volumes.find((v) => v.name === mounts[configDir]);
    const configMap = kind("ConfigMap");
    expect(configVolume?.configMap?.name).toBe(at(configMap, "metadata.name"));
    expect(mountPath(configVolume!.name)?.readOnly).toBe(true);
    expect(Object.keys(at(configMap, "data") as Doc)).toEqual([configEnv.slice(configEnv.lastIndexOf("/") + 1)]);
    expect(spec.volumes.map((v) => v.name)).toContain("data");
    const paths = Object.keys(mounts);
    for (const a of paths) for (const b of paths) if (a !== b) expect(b.startsWith(`${a}/`), `${b} inside ${a}`).toBe(false);
  });

  it("STOWD_AUTH_TOKEN comes from the Secret by secretKeyRef, and the Secret's placeholder is refused rather than served", async () => {
    const secret = kind("Secret");
    const ref = envVar("STOWD_AUTH_TOKEN")?.valueFrom?.secretKeyRef;
    expect(envVar("STOWD_AUTH_TOKEN")?.value).toBeUndefined();
    expect(ref?.name).toBe(at(secret, "metadata.name"));
    const placeholder = (at(secret, "stringData") as Record<string, string>)[ref!.key] as string;
    expect(placeholder).toMatch(/^REPLACE ME/);
    const file = join(dir, "placeholder.yaml");
    await writeFile(file, configMapYaml());
    const message = await refusal(file, { STOWD_AUTH_TOKEN: placeholder });
    expect(message).toContain("STOWD_AUTH_TOKEN: must be at least 16 characters with no whitespace");
    expect(message).not.toContain(placeholder); // a token, even a bad one, is never echoed
  });

  it("TLS comes from a kubernetes.io/tls Secret (the cert-manager Certificate's secretName) mounted read-only where the config's server.tls points", async () => {
    const tlsVolume = volume("tls") as { secret?: { secretName: string; items?: { key: string; path: string }[] } } | undefined;
    expect(tlsVolume?.secret?.secretName).toBe(at(kind("Certificate"), "spec.secretName"));
    const mount = mountPath("tls");
    expect(mount?.readOnly).toBe(true);
    const file = join(dir, "stowd.yaml");
    await writeFile(file, configMapYaml());
    const config = await loadConfig(["--config", file], { STOWD_AUTH_TOKEN: TOKEN });
    // The kubernetes.io/tls Secret keys, as files in the mount.
    const items = Object.fromEntries((tlsVolume?.secret?.items ?? []).map((i) => [i.key, i.path]));
    expect(config.server.tls).toEqual({
      certFile: `${mount?.mountPath}/${items["tls.crt"]}`,
      keyFile: `${mount?.mountPath}/${items["tls.key"]}`,
    });
    // The certificate names the Service.
    expect(at(kind("Certificate"), "spec.dnsNames")).toContain(at(kind("Service"), "metadata.name"));
    expect(at(kind("Certificate"), "spec.usages")).toContain("server auth");
  });

  it("the ConfigMap's config listens on the container ports and, without the token, refuses to serve", async () => {
    const file = join(dir, "stowd.yaml");
    await writeFile(file, configMapYaml());
    const config = await loadConfig(["--config", file], { STOWD_AUTH_TOKEN: TOKEN });
    expect(config.server.grpcAddress).toBe("0.0.0.0:50051");
    expect(config.server.httpAddress).toBe("0.0.0.0:8080");
    expect(config.storage.stow.config.path).toBe("/data");
    expect(await refusal(file, {})).toContain("no authentication");
  });

  it("the Service exposes both ports onto the named container ports of the Deployment's pods", () => {
    const service = kind("Service");
    const deployment = kind("Deployment");
    expect(at(service, "spec.selector")).toEqual(at(deployment, "spec.template.metadata.labels"));
    const ports = at(service, "spec.ports") as { name: string; port: number; targetPort: string; appProtocol?: string }[];
    expect(ports.map(({ name, port, targetPort }) => ({ name, port, targetPort }))).toEqual([
      { name: "grpc", port: 50051, targetPort: "grpc" },
      { name: "http", port: 8080, targetPort: "http" },
    ]);
    // Both ports speak TLS: no cleartext-HTTP/2 hint for meshes and ingresses.
    expect(ports.map((p) => p.appProtocol)).toEqual([undefined, undefined]);
    const containerPorts = (at(deployment, "spec.template.spec.containers.0.ports") as { name: string }[]).map((p) => p.name);
    for (const p of ports) expect(containerPorts).toContain(p.targetPort);
  });
});

describe("Kubernetes example: three replicas on S3 (deploy/kubernetes/s3/)", () => {
  const deployment = () => kind("Deployment", s3k8s, "stowd");
  const container = () => at(deployment(), "spec.template.spec.containers.0") as Container & { resources: unknown };
  const podLabels = () => at(deployment(), "spec.template.metadata.labels");
  const envVar = (name: string) => container().env.find((e) => e.name === name);
  const volume = (name: string) =>
    (at(deployment(), "spec.template.spec.volumes") as Array<Doc & { name: string }>).find((v) => v.name === name) as
      { secret?: { secretName: string; items?: { key: string; path: string }[] }; configMap?: { name: string } } | undefined;
  const mountPath = (name: string) => container().volumeMounts.find((m) => m.name === name)?.mountPath;
  const secret = (name: string) => (at(kind("Secret", s3k8s, name), "stringData") as Record<string, string>) ?? {};
  /** The ConfigMap's config, loaded by stowd's loader as the pod would load it (no STOWD_AUTH_TOKEN). */
  const podConfig = async () => {
    const file = join(dir, "s3.yaml");
    await writeFile(file, (at(kind("ConfigMap", s3k8s), "data") as Record<string, string>)["stowd.yaml"] ?? "");
    return loadConfig(["--config", file], {});
  };

  it("runs three replicas with the single-replica example's probes, ports, user and security context", () => {
    const single = at(kind("Deployment"), "spec.template.spec.containers.0") as Container;
    const c = container();
    expect(at(deployment(), "spec.replicas")).toBe(3);
    expect(at(deployment(), "spec.selector.matchLabels")).toEqual(podLabels());
    expect(at(deployment(), "spec.strategy.rollingUpdate.maxUnavailable")).toBe(0);
    for (const key of ["args", "ports", "livenessProbe", "readinessProbe", "securityContext"] as const)
      expect(c[key], key).toEqual(single[key]);
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http", scheme: "HTTPS" });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http", scheme: "HTTPS" });
    expect(at(deployment(), "spec.template.spec.securityContext")).toEqual(at(kind("Deployment"), "spec.template.spec.securityContext"));
    expect(at(deployment(), "spec.template.spec.terminationGracePeriodSeconds")).toBeGreaterThan(10);
    // Nothing on the pod: no data volume, and the single-token env var is not used.
    expect(mountPath("data")).toBeUndefined();
    expect(envVar("STOWD_AUTH_TOKEN")).toBeUndefined();
  });

  it("asks for CPU and memory, with a memory limit above the request and no CPU limit", () => {
    const { requests, limits } = container().resources as { requests: Record<string, string>; limits: Record<string, string> };
    const mebibytes = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? "NaN");
    expect(requests.cpu).toMatch(/^\d+m$/);
    expect(mebibytes(requests.memory ?? "")).toBeGreaterThan(0);
    expect(mebibytes(limits.memory ?? "")).toBeGreaterThan(mebibytes(requests.memory ?? ""));
    expect(limits.cpu).toBeUndefined();
  });

  it("its config loads with stowd's loader: S3 by the SDK's credential chain, the cache on, Redis at the Redis Service, TLS and a token file", async () => {
    const config = await podConfig();
    expect(config.storage.type).toBe("s3");
    expect(config.storage.stow.config).toMatchObject({ auth_type: "iam" });
    for (const key of ["access_key_id", "secret_key", "secret_key_path"]) expect(config.storage.stow.config[key], key).toBeUndefined();
    expect(config.storage.cache.maxSizeMbs).toBeGreaterThan(0);
    const redisService = kind("Service", s3k8s, "stowd-redis");
    const redisPort = (at(redisService, "spec.ports") as { port: number }[])[0]?.port;
    expect(config.storage.redis.addr).toBe(`${String(at(redisService, "metadata.name"))}:${redisPort}`);
    expect(config.server.grpcAddress).toBe("0.0.0.0:50051");
    expect(config.server.httpAddress).toBe("0.0.0.0:8080");
    expect(config.server.auth?.token).toBeUndefined();
    const tls = volume("tls")?.secret;
    expect(tls?.secretName).toBe(at(kind("Certificate"), "spec.secretName"));
    expect(config.server.tls).toEqual({ certFile: `${mountPath("tls")}/tls.crt`, keyFile: `${mountPath("tls")}/tls.key` });
    expect(tls?.items).toEqual([
      { key: "tls.crt", path: "tls.crt" },
      { key: "tls.key", path: "tls.key" },
    ]);
    // The ConfigMap is mounted where STOWD_CONFIG points.
    const configEnv = envVar("STOWD_CONFIG")?.value ?? "";
    expect(volume("config")?.configMap?.name).toBe(at(kind("ConfigMap", s3k8s), "metadata.name"));
    expect(`${mountPath("config")}/stowd.yaml`).toBe(configEnv);
  });

  it("the S3 keys reach the daemon as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the credentials Secret, never in the config", () => {
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
      const ref = envVar(name)?.valueFrom?.secretKeyRef;
      expect(envVar(name)?.value, name).toBeUndefined();
      expect(ref?.name, name).toBe("stowd-s3-credentials");
      expect(secret(ref!.name)[ref!.key], name).toMatch(/^REPLACE ME/);
    }
    // IRSA / Workload Identity instead: the pods run as a ServiceAccount of their own, whose annotation is documented.
    const account = kind("ServiceAccount", s3k8s);
    expect(at(deployment(), "spec.template.spec.serviceAccountName")).toBe(at(account, "metadata.name"));
  });

  it("auth is on with the token file from its Secret, mounted read-only where server.auth.tokenFile points; the placeholder is refused", async () => {
    const config = await podConfig();
    const tokens = volume("tokens")?.secret;
    expect(tokens?.secretName).toBe("stowd-tokens");
    const [item] = tokens?.items ?? [];
    expect(config.server.auth?.tokenFile).toBe(`${mountPath("tokens")}/${item?.path}`);
    expect(container().volumeMounts.find((m) => m.name === "tokens")?.readOnly).toBe(true);
    const placeholder = secret("stowd-tokens")[item!.key] ?? "";
    expect(() => parseTokenFile(placeholder, "tokens.yaml")).toThrow(ConfigError);
    expect(() => parseTokenFile(placeholder, "tokens.yaml")).toThrow(/must be the 64 hex digits of the token's SHA-256/);
    // The same file with a real hash serves, with the grants it lists.
    const hash = "a".repeat(64);
    const file = parseTokenFile(placeholder.replace(/sha256: .*/, `sha256: ${hash}`), "tokens.yaml");
    expect(file.tokens.map((t) => t.name)).toEqual(["flyte"]);
  });

  it("the Service selects the replicas on both ports; the PodDisruptionBudget keeps two of three", () => {
    const service = kind("Service", s3k8s, "stowd");
    expect(at(service, "spec.selector")).toEqual(podLabels());
    const ports = at(service, "spec.ports") as { name: string; port: number; targetPort: string }[];
    expect(ports.map(({ name, port, targetPort }) => ({ name, port, targetPort }))).toEqual([
      { name: "grpc", port: 50051, targetPort: "grpc" },
      { name: "http", port: 8080, targetPort: "http" },
    ]);
    // The Certificate of the single-replica example names this Service too.
    expect(at(kind("Certificate"), "spec.dnsNames")).toContain(at(service, "metadata.name"));
    const pdb = kind("PodDisruptionBudget", s3k8s);
    expect(at(pdb, "apiVersion")).toBe("policy/v1");
    expect(at(pdb, "spec.minAvailable")).toBe(2);
    expect(at(pdb, "spec.selector.matchLabels")).toEqual(podLabels());
  });

  it("Redis for the invalidations: its own labels (outside the stowd Service), reachable from the stowd pods only", () => {
    const redis = kind("Deployment", s3k8s, "stowd-redis");
    const redisLabels = at(redis, "spec.template.metadata.labels") as Record<string, string>;
    expect(at(redis, "spec.selector.matchLabels")).toEqual(redisLabels);
    expect(redisLabels).not.toEqual(podLabels());
    expect(at(kind("Service", s3k8s, "stowd-redis"), "spec.selector")).toEqual(redisLabels);
    const redisContainer = at(redis, "spec.template.spec.containers.0") as { ports: { name: string; containerPort: number }[] };
    expect(redisContainer.ports).toEqual([{ name: "redis", containerPort: 6379, protocol: "TCP" }]);
    expect(at(kind("Service", s3k8s, "stowd-redis"), "spec.ports.0.targetPort")).toBe("redis");
    const policy = kind("NetworkPolicy", s3k8s);
    expect(at(policy, "spec.podSelector.matchLabels")).toEqual(redisLabels);
    expect(at(policy, "spec.ingress.0.from.0.podSelector.matchLabels")).toEqual(podLabels());
    expect(at(redis, "spec.template.spec.securityContext")).toMatchObject({ runAsNonRoot: true });
  });

  it("every document has apiVersion, kind and a name, and carries the example's label", () => {
    for (const doc of s3k8s) {
      expect(doc.apiVersion, JSON.stringify(doc.metadata)).toMatch(/^(v1|apps\/v1|policy\/v1|networking\.k8s\.io\/v1)$/);
      expect(typeof doc.kind).toBe("string");
      expect(at(doc, "metadata.name")).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect((at(doc, "metadata.labels") as Record<string, string>)["app.kubernetes.io/name"]).toMatch(/^stowd/);
    }
  });
});
