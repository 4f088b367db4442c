// An env var's value, where set-but-empty counts as unset (as `${VAR:-x}`
// does in a shell). The daemon's overrides and the CLI's global options both
// read env vars this way.

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
