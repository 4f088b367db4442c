// The bearer-token form, shown when the daemon checks callers and no
// (working) token is known. The token stays in this tab's sessionStorage.
import { useState } from "preact/hooks";
import { ErrorView } from "./error-view.js";

export interface LoginProps {
  onLogin: (token: string) => void;
  /** Why the last attempt failed, if one did. */
  error: unknown;
  busy: boolean;
}

export function Login({ onLogin, error, busy }: LoginProps) {
  const [token, setToken] = useState("");
  return (
    <section class="login" aria-labelledby="login-title">
      <h1 id="login-title">Log in to stowd</h1>
      <p>This daemon checks who calls it. Give a bearer token from its token file (or its STOWD_AUTH_TOKEN).</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (token.trim() !== "") onLogin(token.trim());
        }}
      >
        <label for="token">Bearer token</label>
        <input id="token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} required />
        <button type="submit" disabled={busy}>
          {busy ? "Checking…" : "Log in"}
        </button>
      </form>
      {error !== undefined && <ErrorView error={error} title="The daemon refused the token" />}
    </section>
  );
}
