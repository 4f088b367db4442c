// Runs against the default daemon (`npm start`): npx tsx examples/sdk-example.ts
import { DurationSchema, durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, createStowdClient, ErrorReason, StowdClientError } from "../client/index.js";

const stowd = createStowdClient({ baseUrl: "http://127.0.0.1:50051", timeoutMs: 60_000 });
try {
  const info = await stowd.write("file://bucket/runs/42/input.txt", "hello from the SDK\n", {
    contentType: "text/plain",
    ifNotExists: true,
  });
  console.log(info.size, info.updateTime?.toISOString()); // 19 2026-...Z: plain numbers and Dates
  const first = await stowd.readBytes(info.reference, { range: { offset: 0, length: 5 } });
  console.log(new TextDecoder().decode(first)); // "hello"
  for await (const entry of stowd.list("file://bucket/runs/", { delimiter: "/" })) {
    console.log(entry.kind === "object" ? entry.info.reference : entry.reference);
  }
  await stowd.writeProtobuf("file://bucket/runs/42/timeout.pb", DurationSchema, durationFromMs(90_000));
  const { message } = await stowd.readProtobuf("file://bucket/runs/42/timeout.pb", DurationSchema);
  console.log(message.seconds); // 90n
} catch (e) {
  if (e instanceof StowdClientError && e.code === Code.AlreadyExists) console.log("already written:", e.reference);
  else if (e instanceof StowdClientError && e.reason === ErrorReason.LIMIT_EXCEEDED) console.log("limit:", e.detail?.limit);
  else throw e;
} finally {
  stowd.close();
}
