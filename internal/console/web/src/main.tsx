// The console's entry: the list of pages, the router (by location hash,
// so the server serves one index.html and needs no routes of its own), the
// sign-in gate and the layout around every page.
import { render, type ComponentType, type JSX } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import "./style.css";
import { ApiClient, ApiError, checkKey, clearSession, loadSession, type PageProps, type Session } from "./api";
import { Button, LiveRegion, announce, routeHref } from "./ui";
import { SignIn } from "./pages/signin";
import { Apps } from "./pages/apps";
import { Overview } from "./pages/overview";
import { Credentials } from "./pages/credentials";
import { Debug } from "./pages/debug";
import { Users } from "./pages/users";
import { Trace } from "./pages/trace";
import { Resources } from "./pages/resources";

/** A page of the console. path is its route (#/path), title its heading
 * and nav entry, mode who may open it. */
export type Page = {
  path: string;
  title: string;
  mode: "app" | "operator";
  component: ComponentType<PageProps>;
};

/** Every page, in nav order; the first of a mode is where a sign-in
 * lands. A new page is one line here and one file in pages/. */
export const pages: Page[] = [
  { path: "overview", title: "Overview", mode: "app", component: Overview },
  { path: "credentials", title: "Push credentials", mode: "app", component: Credentials },
  { path: "debug", title: "Push debugging", mode: "app", component: Debug },
  { path: "users", title: "Users", mode: "app", component: Users },
  { path: "trace", title: "Delivery trace", mode: "app", component: Trace },
  { path: "resources", title: "Resources", mode: "app", component: Resources },
  { path: "apps", title: "Apps", mode: "operator", component: Apps },
];

type Route = { path: string; query: URLSearchParams };

function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, "");
  const i = h.indexOf("?");
  const path = decodeURIComponent(i < 0 ? h : h.slice(0, i));
  return { path, query: new URLSearchParams(i < 0 ? "" : h.slice(i + 1)) };
}

function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return useMemo(() => parseHash(hash), [hash]);
}

function App(): JSX.Element {
  const [session, setSession] = useState<Session | null>(loadSession);
  // Why the console signed out by itself (the key stopped working), shown
  // on the sign-in form.
  const [ended, setEnded] = useState<ApiError | null>(null);
  const api = useMemo(
    () =>
      session
        ? new ApiClient(session, {
            onAuthError: (e) => {
              signOut();
              setEnded(e);
            },
          })
        : null,
    [session],
  );

  // A session restored from sessionStorage (a reload) is proved again: a
  // key rotated or an app disabled since signs out at once (onAuthError).
  useEffect(() => {
    if (api) checkKey(api).catch(() => {});
    // Only for the session found at load: a sign-in has just proved its key.
  }, []);

  function signOut() {
    clearSession();
    setSession(null);
    setEnded(null);
    history.replaceState(null, "", location.pathname);
    announce("Signed out");
  }

  return (
    <>
      <a class="skip-link" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      {session && api ? (
        <Layout session={session} api={api} onSignOut={signOut} />
      ) : (
        <SignIn
          ended={ended}
          onSignIn={(s) => {
            setEnded(null);
            setSession(s);
            const first = pages.find((p) => p.mode === s.mode);
            if (first) location.hash = routeHref(first.path);
          }}
        />
      )}
      <LiveRegion />
    </>
  );
}

// The skip link's target is the main landmark; following "#main" would
// change the route, so the link moves the focus itself.
function skipToMain(e: Event) {
  e.preventDefault();
  document.getElementById("main")?.focus();
}

function Layout({ session, api, onSignOut }: { session: Session; api: ApiClient; onSignOut: () => void }): JSX.Element {
  const route = useRoute();
  const mine = pages.filter((p) => p.mode === session.mode);
  const page = mine.find((p) => p.path === route.path) ?? (route.path === "" ? mine[0] : undefined);
  const heading = useRef<HTMLHeadingElement>(null);
  const title = page ? page.title : "Page not found";

  // A route change moves the focus to the new page's heading, so that a
  // screen reader reads where it is and Tab starts from the page.
  useEffect(() => {
    document.title = `${title} · Herald console`;
    heading.current?.focus();
  }, [route.path, title]);

  const Component = page?.component;
  return (
    <div class="shell">
      <header class="topbar">
        <span class="brand">Herald console</span>
        <span class="who" data-testid="who">
          {session.mode === "app" ? (
            <>
              App <code>{session.appID}</code>
            </>
          ) : (
            "Operator"
          )}
        </span>
        <Button onClick={onSignOut}>Sign out</Button>
      </header>
      <nav class="nav" aria-label="Console pages">
        <ul>
          {mine.map((p) => (
            <li key={p.path}>
              <a href={routeHref(p.path)} aria-current={p === page ? "page" : undefined}>
                {p.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        {Component ? (
          <Component key={page!.path} api={api} session={session} query={route.query} />
        ) : (
          <p>
            There is no page <code>{route.path}</code>. <a href={routeHref(mine[0]?.path ?? "")}>Go to {mine[0]?.title}</a>.
          </p>
        )}
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
