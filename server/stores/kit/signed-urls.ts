// The longest expiry stowd signs or asks a backend to sign: S3's SigV4 limit
// (GCS V4 has the same), so a URL is valid for the same span on every backend.
export const MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600;
