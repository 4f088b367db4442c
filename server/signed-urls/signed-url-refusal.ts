// A signed-URL request refused for a reason of the URL itself (a bad
// signature, an expired URL, ...), beside the StowdErrors of the store: an
// HTTP status, a reason for the `x-stowd-reason` header, and a message that
// says what was wrong and what to do. http-answer.ts turns both into a response.

export type RefusalReason =
  | "MALFORMED_URL"
  | "UNKNOWN_KEY_ID"
  | "BAD_SIGNATURE"
  | "EXPIRED"
  | "WRONG_METHOD"
  | "SIGNER_NOT_ALLOWED"
  | "CONTENT_TYPE_MISMATCH"
  | "METHOD_NOT_ALLOWED"
  | "NOT_SIGNING";

export class SignedUrlRefusal extends Error {
  override readonly name = "SignedUrlRefusal";

  constructor(
    readonly status: number,
    readonly reason: RefusalReason,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** 403 for a URL that does not grant this request. */
export function forbidden(reason: RefusalReason, message: string): SignedUrlRefusal {
  return new SignedUrlRefusal(403, reason, message);
}
