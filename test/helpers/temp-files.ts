// Config files (or any text files) written for one test file into a temp dir
// that is removed after its tests; call at the top level of a test file.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";

/** Returns `file(text)`, which writes `text` to a fresh `<name>-N.yaml` and returns its path. */
export function tempFiles(prefix: string, name = "config"): (text: string) => Promise<string> {
  let dir = "";
  let count = 0;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return async (text) => {
    const path = join(dir, `${name}-${++count}.yaml`);
    await writeFile(path, text);
    return path;
  };
}
