// gRPC server reflection (v1 and v1alpha, what grpcurl and Postman use) fed
// from the protobuf-es descriptors, so no .proto files are read at run time.
// @grpc/reflection indexes a proto-loader style package definition; it only
// reads the serialized FileDescriptorProtos, which we give it for our files,
// every dependency (in dependency order) and the health service's file.
import { toBinary } from "@bufbuild/protobuf";
import type { DescFile } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { protoPath as healthProtoPath } from "grpc-health-check";

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
  const fileDescriptorProtos = withDependencies(files).map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
  const health = loadSync(healthProtoPath);
  const pkg = { ...health, "stowd.v1": { format: "Protocol Buffer 3 DescriptorProto", type: {}, fileDescriptorProtos } } as unknown as PackageDefinition;
  return new ReflectionService(pkg);
}
