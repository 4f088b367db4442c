// /metrics against README.md's list of metrics, both ways: every family a
// real scrape shows (parsed by a Prometheus text parser) is listed with its
// type and exactly its label names, and every listed metric is scraped. The
// daemon has auth, the cache, the download limit and signed URLs on, and has
// served calls over gRPC and Connect, so every family has series to read.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExercisedDaemon, type ExercisedDaemon } from "./exercised-daemon.js";
import { labelNamesOf, parseScrape, valueOf, type ScrapedFamily } from "./parsed-scrape.js";
import { readmeMetricsList, type MetricsList } from "./readme-metrics.js";

let daemon: ExercisedDaemon;
let families: ScrapedFamily[];
let list: MetricsList;

beforeAll(async () => {
  daemon = await startExercisedDaemon();
  families = parseScrape((await daemon.scrape()).text);
  list = readmeMetricsList();
});
afterAll(() => daemon?.close());

const byName = (name: string) => families.find((f) => f.name === name);

describe("README.md's metrics list", () => {
  it("names every scraped family, with its type and label names", () => {
    const ours = families.filter((f) => !list.prefixes.some((p) => f.name.startsWith(p)));
    expect(ours.length).toBeGreaterThan(15);
    for (const family of ours) {
      const listed = list.metrics.find((m) => m.name === family.name);
      expect(listed, `${family.name} is scraped but not listed in README.md`).toBeDefined();
      expect(family.series.length, `${family.name} has no series in the scrape`).toBeGreaterThan(0);
      expect(family.type, family.name).toBe(listed!.type);
      expect(labelNamesOf(family), family.name).toEqual([...listed!.labels].sort());
    }
  });

  it("lists only what a scrape shows", () => {
    expect(list.metrics.length).toBeGreaterThan(15);
    for (const listed of list.metrics) expect(byName(listed.name), `${listed.name} is listed but not scraped`).toBeDefined();
    for (const prefix of list.prefixes)
      expect(
        families.some((f) => f.name.startsWith(prefix)),
        prefix,
      ).toBe(true);
  });

  it("counts what the calls did: RPCs by protocol and Go code name, a cache hit, a limit refusal, signed URLs", () => {
    const value = (name: string, labels: Record<string, string>) => valueOf(families, name, labels);
    const readRaw = { grpc_service: "stowd.v1.RawStoreService", grpc_method: "ReadRaw", grpc_type: "server_stream", protocol: "grpc" };
    expect(value("grpc_server_started_total", readRaw)).toBe(3);
    expect(value("grpc_server_handled_total", { ...readRaw, grpc_code: "OK" })).toBe(2);
    expect(value("grpc_server_handled_total", { ...readRaw, grpc_code: "ResourceExhausted" })).toBe(1);
    expect(value("grpc_server_handling_seconds", readRaw)).toBe(3);
    expect(value("grpc_server_handled_total", { grpc_method: "Head", protocol: "connect", grpc_code: "OK", grpc_type: "unary" })).toBe(1);
    // The second ReadRaw and the signed GET: both read through the cache.
    expect(value("stowd_layer_outcomes_total", { layer: "cache", outcome: "hit" })).toBe(2);
    expect(value("stowd_layer_outcomes_total", { layer: "download_limit", outcome: "refused" })).toBe(1);
    expect(value("stowd_http_requests_total", { handler: "signed_url", method: "GET", code: "200", reason: "OK" })).toBe(1);
    expect(value("stowd_http_requests_total", { handler: "signed_url", method: "GET", code: "403", reason: "BAD_SIGNATURE" })).toBe(1);
    expect(value("stowd_store_operations_total", { backend: "memory", scheme: "mem", op: "write", code: "OK" })).toBe(2);
    expect(value("stowd_build_info", {})).toBe(1);
    expect(byName("stowd_build_info")?.series[0]?.labels.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});
