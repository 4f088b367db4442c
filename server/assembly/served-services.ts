// The services the daemon serves, each over the one call pipeline (metrics,
// call guard, authorization; calls/call-pipeline.ts), on both listeners.
import { ProtobufStoreService } from "../../gen/stowd/v1/protobuf_store_pb.js";
import { RawStoreService } from "../../gen/stowd/v1/raw_store_pb.js";
import { createCallPipeline, type CallStages } from "../calls/call-pipeline.js";
import type { StoreTree } from "../decorators/store-tree.js";
import { createProtobufStoreService } from "../services/protobuf-store-service.js";
import { createRawStoreService, type ServiceLimits } from "../services/raw-store-service.js";
import type { ServedService } from "../transports/grpc-listener.js";

export interface ServedServicesOptions {
  tree: StoreTree;
  /** The daemon's version, for GetServerInfo. */
  version: string;
  limits: ServiceLimits;
  stages: CallStages;
}

export function servedServices(options: ServedServicesOptions): ServedService[] {
  const { tree, version, limits, stages } = options;
  return [
    {
      service: RawStoreService,
      impl: createCallPipeline(
        RawStoreService,
        createRawStoreService({ tree, version, limits, authEnabled: stages.authorization !== undefined }),
        stages,
      ),
    },
    {
      service: ProtobufStoreService,
      impl: createCallPipeline(
        ProtobufStoreService,
        createProtobufStoreService({ store: tree.root, maxMessageBytes: limits.maxMessageBytes }),
        stages,
      ),
    },
  ] as ServedService[];
}
