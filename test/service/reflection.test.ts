// What grpcurl does against the gRPC port: list services over server
// reflection (v1 and v1alpha), then resolve each service's file and every
// file it imports, and decode them as FileDescriptorProtos. Also the
// standard grpc.health.v1 check.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDaemon, type TestDaemon } from "../helpers/daemon.js";

const reflectionProtoRoot = fileURLToPath(new URL("../../node_modules/@grpc/reflection/build/proto", import.meta.url));

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
    loadSync(`grpc/reflection/${version}/reflection.proto`, { includeDirs: [reflectionProtoRoot], keepCase: true, oneofs: true, bytes: Buffer }),
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
  it("lists our services, health and reflection", async () => {
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
        const files = new Map<string, FileDescriptorProto>();
        const add = (res: ReflectionResponse) => {
          expect(res.error_response).toBeUndefined();
          for (const bytes of res.file_descriptor_response?.file_descriptor_proto ?? []) {
            const file = fromBinary(FileDescriptorProtoSchema, bytes);
            files.set(file.name, file);
          }
        };
        add(await r.ask({ file_containing_symbol: symbol }));
        // Like grpcurl: fetch every import not yet seen, by file name.
        for (let pending = [...files.values()]; pending.length > 0; ) {
          const file = pending.pop()!;
          for (const dep of file.dependency) {
            if (files.has(dep)) continue;
            add(await r.ask({ file_by_filename: dep }));
            const got = files.get(dep);
            expect(got, `import ${dep} of ${file.name}`).toBeDefined();
            pending.push(got!);
          }
        }
        const [pkg, name] = [symbol.slice(0, symbol.lastIndexOf(".")), symbol.slice(symbol.lastIndexOf(".") + 1)];
        const owner = [...files.values()].find((f) => f.package === pkg && (f.service.some((s) => s.name === name) || f.messageType.some((m) => m.name === name)));
        expect(owner, `file defining ${symbol}`).toBeDefined();
      } finally {
        r.close();
      }
    },
  );
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
          (client.Check as (req: object, cb: (e: Error | null, r: { status: string }) => void) => void)({ service }, (e, r) => (e ? reject(e) : resolve(r))),
        );
        expect(res.status).toBe("SERVING");
      }
    } finally {
      client.close();
    }
  });
});
