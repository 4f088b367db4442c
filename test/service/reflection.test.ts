// What grpcurl does against the gRPC port: list services over server
// reflection (v1 and v1alpha), then resolve each service's file and every
// file it imports, and decode them as FileDescriptorProtos. Every file
// served must build into a strict descriptor pool (protobuf-es, and protoc
// when installed), as grpcurl and buf curl build one; the health file must be
// the canonical grpc/health/v1/health.proto; buf curl calls Health through
// reflection. Also the standard grpc.health.v1 check.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { create, createFileRegistry, equals, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type FileDescriptorProto,
  type FileDescriptorSet,
} from "@bufbuild/protobuf/wkt";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";

const reflectionProtoRoot = fileURLToPath(new URL("../../node_modules/@grpc/reflection/build/proto", import.meta.url));
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

let daemon: TestDaemon;
beforeAll(async () => {
  daemon = await startTestDaemon();
});
afterAll(async () => {
  await daemon?.close();
});

interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

/** One reflection stream, like a grpcurl invocation; `ask` sends one request and awaits its answer. */
function openReflection(version: "v1" | "v1alpha") {
  const pkg = grpc.loadPackageDefinition(
    loadSync(`grpc/reflection/${version}/reflection.proto`, {
      includeDirs: [reflectionProtoRoot],
      keepCase: true,
      oneofs: true,
      bytes: Buffer,
    }),
  ) as unknown as { grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> } };
  const Client = pkg.grpc.reflection[version]!.ServerReflection;
  const client = new Client(daemon.grpcAddress, grpc.credentials.createInsecure());
  const stream = (client.ServerReflectionInfo as () => grpc.ClientDuplexStream<object, ReflectionResponse>)();
  const waiting: ((r: ReflectionResponse) => void)[] = [];
  stream.on("data", (r: ReflectionResponse) => waiting.shift()?.(r));
  return {
    ask: (request: object) =>
      new Promise<ReflectionResponse>((resolve) => {
        waiting.push(resolve);
        stream.write(request);
      }),
    close: () => {
      stream.end();
      client.close();
    },
  };
}

describe.each(["v1", "v1alpha"] as const)("server reflection %s", (version) => {
  it("lists our services and health", async () => {
    const r = openReflection(version);
    try {
      const res = await r.ask({ list_services: "*" });
      const names = res.list_services_response?.service.map((s) => s.name) ?? [];
      expect(names).toEqual(expect.arrayContaining(["stowd.v1.RawStoreService", "stowd.v1.ProtobufStoreService", "grpc.health.v1.Health"]));
    } finally {
      r.close();
    }
  });

  it.each(["stowd.v1.RawStoreService", "stowd.v1.ProtobufStoreService", "grpc.health.v1.Health", "stowd.v1.ErrorDetail"])(
    "resolves %s and all its imports",
    async (symbol) => {
      const r = openReflection(version);
      try {
        const files = await fetchFiles(r, [symbol]);
        const [pkg, name] = [symbol.slice(0, symbol.lastIndexOf(".")), symbol.slice(symbol.lastIndexOf(".") + 1)];
        const owner = [...files.values()].find(
          (f) => f.package === pkg && (f.service.some((s) => s.name === name) || f.messageType.some((m) => m.name === name)),
        );
        expect(owner, `file defining ${symbol}`).toBeDefined();
      } finally {
        r.close();
      }
    },
  );

  // grpcurl and buf curl build what reflection serves into a strict descriptor
  // pool (Go's protodesc); a file it rejects makes its services uncallable.
  it("serves files that build into a strict descriptor pool, grpc.health.v1 as grpc/health/v1/health.proto", async () => {
    const r = openReflection(version);
    let files: Map<string, FileDescriptorProto>;
    try {
      const listed = (await r.ask({ list_services: "*" })).list_services_response?.service.map((s) => s.name) ?? [];
      files = await fetchFiles(r, [...listed, "stowd.v1.ErrorDetail"]);
    } finally {
      r.close();
    }
    const set = create(FileDescriptorSetSchema, { file: inDependencyOrder(files) });
    const registry = createFileRegistry(set);

    const health = registry.getService("grpc.health.v1.Health");
    expect(health?.file.proto.name).toBe("grpc/health/v1/health.proto");
    expect(health?.methods.map((m) => [m.name, m.methodKind, m.input.typeName, m.output.typeName])).toEqual([
      ["Check", "unary", "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse"],
      ["Watch", "server_streaming", "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse"],
      ["List", "unary", "grpc.health.v1.HealthListRequest", "grpc.health.v1.HealthListResponse"],
    ]);
    const response = registry.getMessage("grpc.health.v1.HealthCheckResponse");
    expect(response?.fields.map((f) => [f.name, f.fieldKind, f.enum?.values.map((v) => v.name)])).toEqual([
      ["status", "enum", ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"]],
    ]);
    const statuses = registry.getMessage("grpc.health.v1.HealthListResponse")?.fields[0];
    expect(statuses?.fieldKind).toBe("map");
    expect(statuses?.proto.typeName).toBe(".grpc.health.v1.HealthListResponse.StatusesEntry");
    // Every map entry is named as protoc names it (`<Field>Entry`), or protodesc and protoc reject the file.
    for (const file of registry.files) {
      for (const message of allMessages(file.messages)) {
        for (const field of message.fields) {
          if (field.fieldKind === "map")
            expect(field.proto.typeName, `${message.typeName}.${field.name}`).toBe(`.${message.typeName}.${mapEntryName(field.name)}`);
        }
      }
    }
    // Every service listed resolves with its methods.
    for (const name of ["stowd.v1.RawStoreService", "stowd.v1.ProtobufStoreService"])
      expect(registry.getService(name)?.methods.length, name).toBeGreaterThan(0);

    // The served health file is the canonical health.proto (grpc-health-check's copy) as buf compiles it.
    const canonical = await compileHealthProto();
    expect(equals(FileDescriptorProtoSchema, files.get("grpc/health/v1/health.proto")!, canonical)).toBe(true);

    // protoc's DescriptorBuilder, when the Debian protobuf-compiler is installed, accepts the whole set too.
    if (await hasProtoc()) await protocAccepts(set);
  });
});

/** The files defining `symbols` and, like grpcurl, every import they name, fetched by file name. */
async function fetchFiles(r: ReturnType<typeof openReflection>, symbols: readonly string[]): Promise<Map<string, FileDescriptorProto>> {
  const files = new Map<string, FileDescriptorProto>();
  const add = (res: ReflectionResponse) => {
    expect(res.error_response).toBeUndefined();
    for (const bytes of res.file_descriptor_response?.file_descriptor_proto ?? []) {
      const file = fromBinary(FileDescriptorProtoSchema, bytes);
      files.set(file.name, file);
    }
  };
  for (const symbol of symbols) add(await r.ask({ file_containing_symbol: symbol }));
  for (let pending = [...files.values()]; pending.length > 0;) {
    const file = pending.pop()!;
    for (const dep of file.dependency) {
      if (files.has(dep)) continue;
      add(await r.ask({ file_by_filename: dep }));
      const got = files.get(dep);
      expect(got, `import ${dep} of ${file.name}`).toBeDefined();
      pending.push(got!);
    }
  }
  return files;
}

/** The files with every file after its imports, as in a FileDescriptorSet from protoc or buf. */
function inDependencyOrder(files: ReadonlyMap<string, FileDescriptorProto>): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const visit = (name: string) => {
    const file = files.get(name);
    if (file === undefined || ordered.includes(file)) return;
    file.dependency.forEach(visit);
    ordered.push(file);
  };
  [...files.keys()].forEach(visit);
  return ordered;
}

function* allMessages(messages: Iterable<DescMessage>): Generator<DescMessage> {
  for (const m of messages) {
    yield m;
    yield* allMessages(m.nestedMessages);
  }
}

/** protoc's name for a map field's entry message: `foo_bar` → `FooBarEntry`. */
function mapEntryName(field: string): string {
  return `${field.replace(/(?:^|_)([a-z0-9])/g, (_, c: string) => c.toUpperCase())}Entry`;
}

/** grpc-health-check's health.proto compiled by buf at its canonical path, without source info. */
async function compileHealthProto(): Promise<FileDescriptorProto> {
  const dir = await mkdtemp(join(tmpdir(), "stowd-health-proto-"));
  try {
    await mkdir(join(dir, "grpc/health/v1"), { recursive: true });
    await writeFile(
      join(dir, "grpc/health/v1/health.proto"),
      await readFile(join(repoRoot, "node_modules/grpc-health-check/proto/health/v1/health.proto")),
    );
    await run(join(repoRoot, "node_modules/.bin/buf"), ["build", dir, "--exclude-source-info", "-o", join(dir, "out.binpb")], { cwd: dir });
    const [file] = fromBinary(FileDescriptorSetSchema, await readFile(join(dir, "out.binpb"))).file;
    return file!;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function hasProtoc(): Promise<boolean> {
  return run("protoc", ["--version"]).then(
    () => true,
    () => false,
  );
}

/** protoc links every file of the set (it rejects unresolved names and misnamed map entries). */
async function protocAccepts(set: FileDescriptorSet): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "stowd-reflection-set-"));
  try {
    await writeFile(join(dir, "set.binpb"), toBinary(FileDescriptorSetSchema, set));
    await run(
      "protoc",
      [`--descriptor_set_in=${join(dir, "set.binpb")}`, `--descriptor_set_out=${join(dir, "out.binpb")}`, ...set.file.map((f) => f.name)],
      { cwd: dir },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("buf curl over reflection", () => {
  const bufCurl = async (...args: string[]) =>
    (
      await run(join(repoRoot, "node_modules/.bin/buf"), ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], {
        timeout: 30_000,
      })
    ).stdout;

  it("calls grpc.health.v1.Health/Check and List, and lists every method", async () => {
    expect(JSON.parse(await bufCurl("-d", "{}", `http://${daemon.grpcAddress}/grpc.health.v1.Health/Check`))).toEqual({
      status: "SERVING",
    });
    const list = JSON.parse(await bufCurl("-d", "{}", `http://${daemon.grpcAddress}/grpc.health.v1.Health/List`)) as {
      statuses: Record<string, unknown>;
    };
    expect(list.statuses["stowd.v1.RawStoreService"]).toEqual({ status: "SERVING" });
    const methods = (await bufCurl("--list-methods", `http://${daemon.grpcAddress}`)).trim().split("\n");
    expect(methods).toEqual(
      expect.arrayContaining([
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/Watch",
        "grpc.health.v1.Health/List",
        "stowd.v1.RawStoreService/ReadRaw",
      ]),
    );
  });
});

describe("grpc.health.v1", () => {
  it("reports SERVING overall and per service", async () => {
    const pkg = grpc.loadPackageDefinition(loadSync(healthProtoPath, { keepCase: true, enums: String })) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    const client = new pkg.grpc.health.v1.Health(daemon.grpcAddress, grpc.credentials.createInsecure());
    try {
      for (const service of ["", "stowd.v1.RawStoreService"]) {
        const res = await new Promise<{ status: string }>((resolve, reject) =>
          (client.Check as (req: object, cb: (e: Error | null, r: { status: string }) => void) => void)({ service }, (e, r) =>
            e ? reject(e) : resolve(r),
          ),
        );
        expect(res.status).toBe("SERVING");
      }
    } finally {
      client.close();
    }
  });
});
