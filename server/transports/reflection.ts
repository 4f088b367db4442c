// gRPC server reflection (v1 and v1alpha, what grpcurl and Postman use) fed
// from the protobuf-es descriptors, so no .proto files are read at run time.
// @grpc/reflection indexes a proto-loader style package definition; it only
// reads the serialized FileDescriptorProtos, which we give it for our files,
// every dependency (in dependency order) and the health service's file.
import { fromJson, toBinary } from "@bufbuild/protobuf";
import type { DescFile } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";

/**
 * grpc.health.v1 as the canonical grpc/health/v1/health.proto compiles
 * (`buf build`, source info excluded), Check, Watch and List, the methods
 * grpc-health-check 2.1 implements. Loading grpc-health-check's .proto with
 * proto-loader instead gives a file named `grpc_health_v1.proto` with relative
 * type names and a map entry named `Statuses`, which strict descriptor
 * builders (protoc, Go's protodesc behind grpcurl and buf curl) reject.
 */
const healthFileDescriptor: FileDescriptorProto = fromJson(FileDescriptorProtoSchema, {
  name: "grpc/health/v1/health.proto",
  package: "grpc.health.v1",
  messageType: [
    { name: "HealthListRequest" },
    {
      name: "HealthListResponse",
      field: [
        {
          name: "statuses",
          number: 1,
          label: "LABEL_REPEATED",
          type: "TYPE_MESSAGE",
          typeName: ".grpc.health.v1.HealthListResponse.StatusesEntry",
          jsonName: "statuses",
        },
      ],
      nestedType: [
        {
          name: "StatusesEntry",
          field: [
            { name: "key", number: 1, label: "LABEL_OPTIONAL", type: "TYPE_STRING", jsonName: "key" },
            {
              name: "value",
              number: 2,
              label: "LABEL_OPTIONAL",
              type: "TYPE_MESSAGE",
              typeName: ".grpc.health.v1.HealthCheckResponse",
              jsonName: "value",
            },
          ],
          options: { mapEntry: true },
        },
      ],
    },
    {
      name: "HealthCheckRequest",
      field: [{ name: "service", number: 1, label: "LABEL_OPTIONAL", type: "TYPE_STRING", jsonName: "service" }],
    },
    {
      name: "HealthCheckResponse",
      field: [
        {
          name: "status",
          number: 1,
          label: "LABEL_OPTIONAL",
          type: "TYPE_ENUM",
          typeName: ".grpc.health.v1.HealthCheckResponse.ServingStatus",
          jsonName: "status",
        },
      ],
      enumType: [
        {
          name: "ServingStatus",
          value: [
            { name: "UNKNOWN", number: 0 },
            { name: "SERVING", number: 1 },
            { name: "NOT_SERVING", number: 2 },
            { name: "SERVICE_UNKNOWN", number: 3 },
          ],
        },
      ],
    },
  ],
  service: [
    {
      name: "Health",
      method: [
        { name: "Check", inputType: ".grpc.health.v1.HealthCheckRequest", outputType: ".grpc.health.v1.HealthCheckResponse" },
        {
          name: "Watch",
          inputType: ".grpc.health.v1.HealthCheckRequest",
          outputType: ".grpc.health.v1.HealthCheckResponse",
          serverStreaming: true,
        },
        { name: "List", inputType: ".grpc.health.v1.HealthListRequest", outputType: ".grpc.health.v1.HealthListResponse" },
      ],
    },
  ],
  options: {
    javaPackage: "io.grpc.health.v1",
    javaOuterClassname: "HealthProto",
    javaMultipleFiles: true,
    goPackage: "google.golang.org/grpc/health/grpc_health_v1",
    csharpNamespace: "Grpc.Health.V1",
  },
  syntax: "proto3",
});

/** Files in dependency order: every file comes after the files it imports. */
function withDependencies(files: readonly DescFile[]): DescFile[] {
  const ordered: DescFile[] = [];
  const visit = (file: DescFile) => {
    if (ordered.includes(file)) return;
    file.dependencies.forEach(visit);
    ordered.push(file);
  };
  files.forEach(visit);
  return ordered;
}

export function createReflectionService(files: readonly DescFile[]): ReflectionService {
  const protos = [...withDependencies(files).map((f) => f.proto), healthFileDescriptor];
  const fileDescriptorProtos = protos.map((p) => Buffer.from(toBinary(FileDescriptorProtoSchema, p)));
  // The library only reads `fileDescriptorProtos` of each entry; the key is arbitrary.
  const pkg = {
    descriptors: { format: "Protocol Buffer 3 DescriptorProto", type: {}, fileDescriptorProtos },
  } as unknown as PackageDefinition;
  return new ReflectionService(pkg);
}
