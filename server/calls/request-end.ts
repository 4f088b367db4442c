// The end of a client stream's messages does not prove the client finished:
// a Node.js HTTP/2 client that cancels (stream.close(NGHTTP2_CANCEL), which
// grpc-js and connect-node both do) first ends its writable side, so its
// END_STREAM reaches the daemon as a real half-close, and its RST_STREAM
// follows in a later frame. An upload that declares no size would then look
// complete. Each transport hands the services a proof of the end (a connect
// context value) that the services await before they let a store commit.
import { createContextKey, type ContextValues } from "@connectrpc/connect";
import { StowdError } from "../../common/errors.js";

export interface RequestEndProof {
  /**
   * Resolves if the request stream is still ended by the client's
   * half-close; throws CANCELLED if the client reset it (or the connection
   * died). With `roundTrip`, it first makes an in-band round trip to the
   * client, so a reset the client sent along with its END_STREAM has arrived
   * by then; without, it checks what has arrived so far.
   */
  confirm(options: { roundTrip: boolean; reference: string; signal: AbortSignal }): Promise<void>;
}

/** Set on every client-streaming call by both transports (server/transports/http2-request-end.ts). */
export const REQUEST_END = createContextKey<RequestEndProof | undefined>(undefined, {
  description: "proof that the client finished its request stream",
});

/** The proof of the end of the request stream; throws when the transport gave none, so nothing is committed unproven. */
export function requestEndOf(values: ContextValues, reference: string): RequestEndProof {
  const proof = values.get(REQUEST_END);
  if (proof === undefined) {
    throw new StowdError(
      "INTERNAL",
      `the transport serving this call cannot prove that the client finished the upload to ${reference}; nothing was stored`,
      {
        reference,
      },
    );
  }
  return proof;
}

/** The error a proof throws: the client ended the call, so the message mostly reaches the call log. */
export function resetError(reference: string): StowdError {
  return new StowdError("CANCELLED", `the client reset the upload to ${reference} before finishing it; nothing was stored`, { reference });
}
