// Flyte v1's deprecated `storage.connection` block (S3 only) and the stow s3
// keys it stands for: Flyte's legacyS3ConfigMap, written once for the loader
// (which translates it into stow.config), the assembly (a config built in
// code may still carry it) and the load-time value checks (which name the
// connection key the user wrote).
import type { LegacyConnectionConfig } from "./config.js";

/** The stow s3 key each connection key becomes. */
export const CONNECTION_KEY_OF_STOW_KEY: Readonly<Record<string, string>> = {
  auth_type: "auth-type",
  region: "region",
  endpoint: "endpoint",
  access_key_id: "access-key",
  secret_key: "secret-key",
  disable_ssl: "disable-ssl",
};

/** Flyte v1's legacyS3ConfigMap: the connection block as stow s3 keys; empty settings are left out. */
export function legacyS3ConfigMap(c: LegacyConnectionConfig): Record<string, string> {
  const out: Record<string, string> = { auth_type: c.authType, region: c.region };
  if (c.endpoint !== "") out.endpoint = c.endpoint;
  if (c.accessKey !== "") out.access_key_id = c.accessKey;
  if (c.secretKey !== "") out.secret_key = c.secretKey;
  if (c.disableSsl) out.disable_ssl = "True";
  return out;
}
