// Grants: which operations a caller may do on which references. A grant's
// prefixes are parsed with the reference parser the services use, and every
// check compares the parsed (scheme, container, key) of the request with
// them, so `s3://b/team-a/../team-b/x` (rejected by the parser) or
// `s3://b/team-ab/x` cannot pass a grant for `s3://b/team-a/`.
import { parsePrefixReference, type Ref } from "../references/reference.js";

export const OPERATIONS = ["read", "write", "list", "delete", "sign", "admin"] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Where a grant applies: every reference ("*"), or one scheme + container and a key prefix ("" = the whole container). */
export type GrantPrefix = { any: true; text: "*" } | { any: false; text: string; scheme: string; container: string; keyPrefix: string };

export interface Grant {
  operations: ReadonlySet<Operation>;
  prefixes: readonly GrantPrefix[];
}

/** Every operation on every reference: the grant of STOWD_AUTH_TOKEN. */
export const ALL_GRANTS: readonly Grant[] = [{ operations: new Set(OPERATIONS), prefixes: [{ any: true, text: "*" }] }];

/**
 * Parses a grant prefix; returns an explanation instead when it is not one.
 * A key prefix must end with "/" so that `s3://b/team-a` cannot mean
 * `s3://b/team-ab/` too; `s3://b/` is the whole container, `*` everything.
 */
export function parseGrantPrefix(text: string): GrantPrefix | string {
  if (text === "*") return { any: true, text };
  let ref: Ref;
  try {
    ref = parsePrefixReference(text);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  if (ref.key !== "" && !ref.key.endsWith("/")) {
    return `${JSON.stringify(text)} must end with "/" (a grant covers whole "directories": ${JSON.stringify(`${text}/`)}), name a whole container (scheme://container/) or be "*"`;
  }
  return { any: false, text, scheme: ref.scheme, container: ref.container, keyPrefix: ref.key };
}

/** Whether `prefix` covers `ref` (an object reference, or a listing prefix as parsed by parsePrefixReference). */
export function covers(prefix: GrantPrefix, ref: Ref): boolean {
  return prefix.any || (prefix.scheme === ref.scheme && prefix.container === ref.container && ref.key.startsWith(prefix.keyPrefix));
}

/** Whether the grants allow `operation` on `ref`; admin allows every operation. */
export function allows(grants: readonly Grant[], operation: Operation, ref: Ref): boolean {
  return grants.some((g) => (g.operations.has(operation) || g.operations.has("admin")) && g.prefixes.some((p) => covers(p, ref)));
}

/** The prefixes where the grants allow `operation`, for a denial message. */
export function prefixesFor(grants: readonly Grant[], operation: Operation): string[] {
  return [
    ...new Set(
      grants.filter((g) => g.operations.has(operation) || g.operations.has("admin")).flatMap((g) => g.prefixes.map((p) => p.text)),
    ),
  ];
}
