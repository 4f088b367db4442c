// The console's frame: connect (asking for a token when the daemon checks
// callers), then the header (navigation, the reference box, who is logged
// in) and the view the URL's fragment names.
import { useEffect, useState } from "preact/hooks";
import { ErrorView } from "./error-view.js";
import { isUnauthenticated } from "./errors.js";
import { hrefOf, useRoute } from "./hash-route.js";
import { Home } from "./home.js";
import { Listing } from "./listing.js";
import { Login } from "./login.js";
import { ObjectDetails } from "./object-details.js";
import { ReferenceBox } from "./reference-box.js";
import { asPrefix, isSchemeRoot } from "./references.js";
import { ServerInfoView } from "./server-info.js";
import { forgetToken, openSession, storedToken, storeToken, type Session } from "./session.js";

type Connection =
  | { state: "connecting" }
  | { state: "login"; error: unknown; busy: boolean }
  | { state: "failed"; error: unknown }
  | { state: "ready"; session: Session };

export function App() {
  const [connection, setConnection] = useState<Connection>({ state: "connecting" });

  const connect = (token: string | undefined) =>
    openSession(token).then(
      (session) => {
        if (token !== undefined) storeToken(token);
        setConnection({ state: "ready", session });
      },
      (error: unknown) => {
        if (!isUnauthenticated(error)) return setConnection({ state: "failed", error });
        forgetToken();
        // Without a token, UNAUTHENTICATED just means "log in"; with one, the token was refused.
        setConnection({ state: "login", error: token === undefined ? undefined : error, busy: false });
      },
    );

  useEffect(() => void connect(storedToken()), []);

  if (connection.state === "connecting") return <p class="loading">Connecting to stowd…</p>;
  if (connection.state === "failed")
    return (
      <main class="page">
        <ErrorView error={connection.error} title="The console could not reach the daemon" />
        <button type="button" onClick={() => location.reload()}>
          Try again
        </button>
      </main>
    );
  if (connection.state === "login")
    return (
      <main class="page">
        <Login
          error={connection.error}
          busy={connection.busy}
          onLogin={(token) => {
            setConnection({ state: "login", error: undefined, busy: true });
            void connect(token);
          }}
        />
      </main>
    );
  return (
    <Console
      session={connection.session}
      onLogout={() => {
        forgetToken();
        setConnection({ state: "login", error: undefined, busy: false });
      }}
    />
  );
}

function Console({ session, onLogout }: { session: Session; onLogout: () => void }) {
  const route = useRoute();
  const [boxError, setBoxError] = useState<unknown>(undefined);
  useEffect(() => setBoxError(undefined), [route]);
  const { caller } = session.info;
  return (
    <>
      <header class="top">
        <a class="brand" href={hrefOf({ view: "home" })}>
          stowd console
        </a>
        <nav aria-label="Main">
          <a href={hrefOf({ view: "home" })} aria-current={route.view === "home" ? "page" : undefined}>
            Browse
          </a>
          <a href={hrefOf({ view: "server" })} aria-current={route.view === "server" ? "page" : undefined}>
            Server
          </a>
        </nav>
        <ReferenceBox session={session} onError={setBoxError} />
        <div class="caller">
          {caller.authEnabled ? (
            <>
              <span>
                Logged in as <strong data-testid="caller-name">{caller.name}</strong>
              </span>
              <button type="button" onClick={onLogout}>
                Log out
              </button>
            </>
          ) : (
            <span class="auth-off">Authentication is off</span>
          )}
        </div>
      </header>
      <main class="page">
        {boxError !== undefined && <ErrorView error={boxError} title="Opening the reference failed" />}
        {route.view === "home" && <Home session={session} />}
        {route.view === "browse" &&
          (isSchemeRoot(route.reference) ? <Home session={session} /> : <Listing session={session} prefix={asPrefix(route.reference)} />)}
        {route.view === "object" && <ObjectDetails session={session} reference={route.reference} />}
        {route.view === "server" && <ServerInfoView session={session} />}
      </main>
    </>
  );
}
