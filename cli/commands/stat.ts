// `stowd stat`: Head. A missing object is an error here (exit 3), where the
// RPC itself answers exists = false.
import { StowdError } from "../../common/errors.js";
import type { Command } from "../command.js";
import { objectJson, objectText } from "../format.js";
import { requireReference } from "../location.js";

export const stat: Command = {
  name: "stat",
  summary: "show an object's size, etag, MD5, content type, metadata",
  synopsis: "stowd stat [options] REF",
  description: `Shows an object's info (Head). A missing object exits 3. With --json:
  {"reference":...,"size":N,"etag":...,"md5":HEX,"contentType":...,"metadata":{...},
   "updateTime":ISO|null,"generation":...}`,
  flags: {},
  flagHelp: [],
  examples: [
    "stowd stat file://bucket/hello.txt",
    "stowd stat --json mem://b/k | jq .size",
    "stowd stat mem://b/k >/dev/null && echo exists",
  ],
  positionals: { min: 1, max: 1 },
  async run(context, _flags, [reference = ""]) {
    requireReference(reference, "REF");
    const info = await context.client().head(reference, { signal: context.signal });
    if (info === undefined) throw new StowdError("NOT_FOUND", `${reference} does not exist`, { reference });
    context.out.result(objectJson(info), objectText(info));
  },
};
