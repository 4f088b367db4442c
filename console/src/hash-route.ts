// The console's views live in the URL's fragment (#/browse/<reference>), so
// the daemon serves one index.html and links, the back button and reloads
// work without any server-side routing.
import { useEffect, useState } from "preact/hooks";

export type Route = { view: "home" } | { view: "browse"; reference: string } | { view: "object"; reference: string } | { view: "server" };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "");
  const [, view = "", ...rest] = path.split("/");
  const reference = decodeURIComponent(rest.join("/"));
  if (view === "browse" && reference !== "") return { view, reference };
  if (view === "object" && reference !== "") return { view, reference };
  if (view === "server") return { view };
  return { view: "home" };
}

export function hrefOf(route: Route): string {
  switch (route.view) {
    case "home":
      return "#/";
    case "server":
      return "#/server";
    case "browse":
    case "object":
      return `#/${route.view}/${encodeURIComponent(route.reference)}`;
  }
}

export function navigate(route: Route): void {
  window.location.hash = hrefOf(route);
}

/** The current route, updated on every hash change. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
