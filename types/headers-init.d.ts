// @connectrpc/connect's declarations name the DOM's HeadersInit, which
// @types/node 20 does not declare as a global; this is the same type, so the
// compiler can check library declarations too (no skipLibCheck).
type HeadersInit = ConstructorParameters<typeof Headers>[0];
