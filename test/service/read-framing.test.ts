import { describe, expect, it } from "vitest";
import { frameReadChunks } from "../../server/services/read-framing.js";

async function* from(sizes: number[]): AsyncGenerator<Uint8Array> {
  let value = 0;
  for (const size of sizes) {
    const chunk = new Uint8Array(size);
    for (let i = 0; i < size; i++) chunk[i] = value++ & 0xff;
    yield chunk;
  }
}

async function framed(sizes: number[], minBytes = 10, maxBytes = 25): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const message of frameReadChunks(from(sizes), { minBytes, maxBytes })) out.push(message);
  return out;
}

function joined(parts: Uint8Array[]): number[] {
  return parts.flatMap((p) => [...p]);
}

describe("frameReadChunks", () => {
  it("joins small pieces into messages of at least minBytes, keeping every byte in order", async () => {
    const sizes = [3, 3, 3, 3, 1, 7, 2];
    const out = await framed(sizes);
    expect(out.map((m) => m.length)).toEqual([12, 10]);
    expect(joined(out)).toEqual(joined(await framed(sizes, 1, 1000)));
    expect(joined(out)).toEqual([...Array(22).keys()]);
  });

  it("cuts large pieces to at most maxBytes and sends a short tail at the end", async () => {
    const out = await framed([60, 4]);
    expect(out.map((m) => m.length)).toEqual([25, 25, 10, 4]);
    expect(joined(out)).toEqual([...Array(64).keys()]);
  });

  it("cuts a joined run that overshoots maxBytes, and skips empty pieces", async () => {
    const out = await framed([9, 0, 20, 0]);
    expect(out.map((m) => m.length)).toEqual([25, 4]);
  });

  it("yields nothing for an empty read", async () => {
    expect(await framed([])).toEqual([]);
    expect(await framed([0, 0])).toEqual([]);
  });
});
