// The daemon's auth on the wire: `authorization: Bearer <token>` on every
// call. Platform-neutral, so both entry points' transports share it.
import type { Interceptor } from "@connectrpc/connect";

/** An interceptor that sends `authorization: Bearer <token>`. */
export function bearerToken(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}
