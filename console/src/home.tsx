// The start page: every configured scheme with its backend, and the
// containers of each that the console can find: those a listing of
// `scheme://` returns (backends that list their containers), the configured
// default container, and the prefixes the caller's grants name (a scoped
// token usually may not list the scheme itself). Any other container can be
// typed in the reference box.
import { Code, StowdClientError, type BackendInfo } from "../../client/browser.js";
import { ErrorView } from "./error-view.js";
import { hrefOf } from "./hash-route.js";
import { asPrefix, schemeOf } from "./references.js";
import type { Session } from "./session.js";
import { useLoad } from "./use-load.js";

export function Home({ session }: { session: Session }) {
  return (
    <section aria-labelledby="home-title">
      <h1 id="home-title">Schemes</h1>
      {session.info.backends.length === 0 && <p class="empty">This daemon serves no schemes.</p>}
      <ul class="schemes">
        {session.info.backends.map((backend) => (
          <SchemeCard key={backend.scheme} session={session} backend={backend} />
        ))}
      </ul>
    </section>
  );
}

function SchemeCard({ session, backend }: { session: Session; backend: BackendInfo }) {
  const root = `${backend.scheme}://`;
  const [containers] = useLoad(async () => {
    if (!backend.capabilities.delimiterListing) return [];
    const pages = session.client.listPages(root, { delimiter: "/", pageSize: 1000 });
    for await (const page of pages) return page.commonPrefixes;
    return [];
  }, [session, root]);
  const base = backend.baseContainerReference;
  const granted = session.info.caller.grants.flatMap((g) => g.prefixes).filter((p) => schemeOf(p) === backend.scheme);
  const denied =
    containers.state === "error" && containers.error instanceof StowdClientError && containers.error.code === Code.PermissionDenied;
  return (
    <li class="scheme-card">
      <h2>
        <code>{root}</code> <span class="kind">{backend.kind}</span>
      </h2>
      {containers.state === "loading" && <p aria-busy="true">Looking for containers…</p>}
      {granted.length > 0 && (
        <>
          <p class="note">Your grants:</p>
          <ul class="containers">
            {[...new Set(granted)].map((prefix) => (
              <li key={prefix}>
                <a href={hrefOf({ view: "browse", reference: prefix })}>{prefix}</a>
              </li>
            ))}
          </ul>
        </>
      )}
      {denied && <p class="note">Your token may not list {root} itself.</p>}
      {containers.state === "error" && !denied && <ErrorView error={containers.error} title={`Listing ${root} failed`} />}
      {containers.state === "ok" && (
        <ul class="containers">
          {containers.value.map((reference) => (
            <li key={reference}>
              <a href={hrefOf({ view: "browse", reference })}>{reference}</a>
            </li>
          ))}
          {base !== "" && !containers.value.includes(asPrefix(base)) && (
            <li>
              <a href={hrefOf({ view: "browse", reference: asPrefix(base) })}>{asPrefix(base)}</a>{" "}
              <span class="note">(default container)</span>
            </li>
          )}
          {containers.value.length === 0 && base === "" && granted.length === 0 && (
            <li class="empty">
              {root} does not list its containers here: type one in <em>Open reference</em>, e.g. <code>{root}bucket/</code>.
            </li>
          )}
        </ul>
      )}
    </li>
  );
}
