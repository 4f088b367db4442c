// A failure shown as the daemon reported it: code, reason, message and the
// reference it is about, announced to screen readers as it appears.
import { describeError } from "./errors.js";

export function ErrorView({ error, title = "The request failed" }: { error: unknown; title?: string }) {
  const { code, reason, message, reference } = describeError(error);
  return (
    <div class="error" role="alert">
      <p class="error-title">
        <strong>{title}:</strong> <code>{code}</code>
        {reason !== "" && reason !== code && (
          <>
            {" "}
            reason <code>{reason}</code>
          </>
        )}
      </p>
      <p class="error-message">{message}</p>
      {reference !== "" && (
        <p class="error-reference">
          Reference: <code>{reference}</code>
        </p>
      )}
    </div>
  );
}
