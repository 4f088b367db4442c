// The Dockerfile and the Kubernetes example, checked without a Docker engine
// or a cluster: the image builds in stages and runs as a non-root user with a
// HEALTHCHECK, the /data volume and both ports; every file it copies exists
// and is not dockerignored; its config and the ConfigMap's are valid stowd
// configs; the Deployment's probes, ports, user and mounts agree with the
// image, and the Service exposes both ports onto named container ports.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../../server/config/load-config.js";
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
let dir: string;

beforeAll(async () => {
  dockerfile = parseDockerfile(await readFile(join(REPO_ROOT, "Dockerfile"), "utf8"));
  const last = Math.max(...dockerfile.map((i) => i.stage));
  finalStage = dockerfile.filter((i) => i.stage === last);
  dockerignore = (await readFile(join(REPO_ROOT, ".dockerignore"), "utf8")).split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  k8s = [
    ...(await yamlDocs("deploy/kubernetes/configmap.yaml")),
    ...(await yamlDocs("deploy/kubernetes/deployment.yaml")),
    ...(await yamlDocs("deploy/kubernetes/service.yaml")),
  ];
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

function kind(name: string): Doc {
  const doc = k8s.find((d) => d.kind === name);
  expect(doc, name).toBeDefined();
  return doc!;
}

// Typed access into parsed YAML; a missing path fails the expectation that reads it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const at = (doc: unknown, path: string): any => path.split(".").reduce<any>((v, k) => (v === undefined || v === null ? undefined : v[k]), doc);

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

  it("keeps the default local store on a volume and exposes both ports; serve is the default command", async () => {
    expect(execForm(one("VOLUME").args)).toEqual(["/data"]);
    expect(one("EXPOSE").args.split(/\s+/).sort()).toEqual(["50051", "8080"]);
    expect(execForm(one("ENTRYPOINT").args)).toEqual(["node", "/app/dist/cli/main.js"]);
    expect(execForm(one("CMD").args)).toEqual(["serve"]);
    // The image's config (STOWD_CONFIG) is deploy/container.yaml: /data, every interface, the exposed ports.
    const env = one("ENV").args;
    const configPath = /STOWD_CONFIG=(\S+)/.exec(env)?.[1];
    expect(finalStage.some((i) => i.keyword === "COPY" && i.args === `deploy/container.yaml ${configPath}`)).toBe(true);
    const config = await loadConfig(["--config", join(REPO_ROOT, "deploy/container.yaml")], {});
    expect(config.storage.stow.config.path).toBe("/data");
    expect(config.server.grpcAddress).toBe("0.0.0.0:50051");
    expect(config.server.httpAddress).toBe("0.0.0.0:8080");
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
  it("the Deployment probes /healthz for liveness and grpc.health.v1 for readiness on the image's ports", () => {
    const deployment = kind("Deployment");
    const container = at(deployment, "spec.template.spec.containers.0");
    expect(container.args).toEqual(["serve"]);
    expect(container.ports).toEqual([
      { name: "grpc", containerPort: 50051, protocol: "TCP" },
      { name: "http", containerPort: 8080, protocol: "TCP" },
    ]);
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(container.readinessProbe.grpc).toEqual({ port: 50051 });
    const user = one("USER").args.split(":")[0];
    expect(at(deployment, "spec.template.spec.securityContext")).toMatchObject({ runAsNonRoot: true, runAsUser: Number(user) });
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    // Longer than the daemon's shutdown grace (10 s).
    expect(at(deployment, "spec.template.spec.terminationGracePeriodSeconds")).toBeGreaterThan(10);
    expect(at(deployment, "spec.selector.matchLabels")).toEqual(at(deployment, "spec.template.metadata.labels"));
  });

  it("mounts the ConfigMap where STOWD_CONFIG points and the data volume at /data", () => {
    const spec = at(kind("Deployment"), "spec.template.spec");
    const container = spec.containers[0];
    const mounts = Object.fromEntries((container.volumeMounts as { name: string; mountPath: string }[]).map((m) => [m.mountPath, m.name]));
    expect(mounts["/data"]).toBe("data");
    const configEnv = (container.env as { name: string; value: string }[]).find((e) => e.name === "STOWD_CONFIG")?.value ?? "";
    const configDir = configEnv.slice(0, configEnv.lastIndexOf("/"));
    const configVolume = (spec.volumes as { name: string; configMap?: { name: string } }[]).find((v) => v.name === mounts[configDir]);
    const configMap = kind("ConfigMap");
    expect(configVolume?.configMap?.name).toBe(at(configMap, "metadata.name"));
    expect(Object.keys(at(configMap, "data"))).toEqual([configEnv.slice(configEnv.lastIndexOf("/") + 1)]);
    expect((spec.volumes as { name: string }[]).map((v) => v.name)).toContain("data");
  });

  it("the ConfigMap's config loads and listens on the container ports", async () => {
    const file = join(dir, "stowd.yaml");
    await writeFile(file, at(kind("ConfigMap"), "data")["stowd.yaml"] as string);
    const config = await loadConfig(["--config", file], {});
    expect(config.server.grpcAddress).toBe("0.0.0.0:50051");
    expect(config.server.httpAddress).toBe("0.0.0.0:8080");
    expect(config.storage.stow.config.path).toBe("/data");
  });

  it("the Service exposes both ports onto the named container ports of the Deployment's pods", () => {
    const service = kind("Service");
    const deployment = kind("Deployment");
    expect(at(service, "spec.selector")).toEqual(at(deployment, "spec.template.metadata.labels"));
    const ports = at(service, "spec.ports") as { name: string; port: number; targetPort: string }[];
    expect(ports.map(({ name, port, targetPort }) => ({ name, port, targetPort }))).toEqual([
      { name: "grpc", port: 50051, targetPort: "grpc" },
      { name: "http", port: 8080, targetPort: "http" },
    ]);
    const containerPorts = (at(deployment, "spec.template.spec.containers.0.ports") as { name: string }[]).map((p) => p.name);
    for (const p of ports) expect(containerPorts).toContain(p.targetPort);
  });
});
