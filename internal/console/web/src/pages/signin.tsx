import type { JSX } from "preact";
import { useState, useEffect, useRef } from "preact/hooks";
import { ApiClient, ApiError, checkKey, saveSession, type Session } from "../api";
import { Button, ErrorBox, Field, announce } from "../ui";

/** The sign-in form: an app's ID and admin key, or the operator key. The
 * key is tried against the API before it is kept (in sessionStorage): a
 * wrong key is shown as the API's error and nothing is stored. */
export function SignIn({ onSignIn, ended }: { onSignIn: (s: Session) => void; ended?: ApiError | null }): JSX.Element {
  const [mode, setMode] = useState<"app" | "operator">("app");
  const [appID, setAppID] = useState("");
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    heading.current?.focus();
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    const s: Session = mode === "app" ? { mode, appID: appID.trim(), key: key.trim() } : { mode, key: key.trim() };
    setBusy(true);
    try {
      // The key is proved before anything is kept.
      await checkKey(new ApiClient(s));
      saveSession(s);
      announce("Signed in");
      onSignIn(s);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <main id="main" class="signin" tabIndex={-1}>
      <h1 ref={heading} tabIndex={-1}>
        Sign in to the Herald console
      </h1>
      {ended && !error ? (
        <div class="card signed-out" data-testid="signed-out">
          <p>The key stopped working, so the console signed out:</p>
          <ErrorBox error={ended} />
        </div>
      ) : null}
      <form onSubmit={submit} class="card" aria-describedby="signin-note">
        <fieldset class="mode">
          <legend>Sign in with</legend>
          <label>
            <input type="radio" name="mode" value="app" checked={mode === "app"} onChange={() => setMode("app")} /> an app's admin key
          </label>
          <label>
            <input type="radio" name="mode" value="operator" checked={mode === "operator"} onChange={() => setMode("operator")} /> the operator
            key
          </label>
        </fieldset>
        {mode === "app" ? <Field label="App ID" name="appID" value={appID} onInput={setAppID} required mono /> : null}
        <Field
          label={mode === "app" ? "Admin key" : "Operator key"}
          name="key"
          type="password"
          value={key}
          onInput={setKey}
          required
          mono
          autoComplete="off"
        />
        <ErrorBox error={error} />
        <Button kind="primary" type="submit" busy={busy}>
          Sign in
        </Button>
        <p class="hint" id="signin-note">
          The key is kept in this tab only (sessionStorage) and sent to this server alone; closing the tab or signing out forgets it.
        </p>
      </form>
    </main>
  );
}
