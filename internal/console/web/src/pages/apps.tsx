import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { PageProps } from "../api";
import { Button, ErrorBox, Field, Table, announce, useLoad } from "../ui";

/** An app as the operator sees it (GET /v1/admin/apps): never its keys. */
type AppView = {
  id: string;
  name: string;
  disabled: boolean;
  disabledAt?: string;
  createdAt: string;
  updatedAt: string;
};

type AppList = { apps: AppView[]; next?: string };

/** A created app with its credentials, which the server shows this once. */
type AppCreated = AppView & { secret: string; adminKey: string };

function when(iso?: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** The operator's apps: the list (paged), create an app (its server
 * secret and admin key shown once), disable and enable. */
export function Apps({ api }: PageProps): JSX.Element {
  const [after, setAfter] = useState("");
  const [shown, setShown] = useState<AppView[]>([]);
  const list = useLoad(() => api.get<AppList>(api.adminPath(`/apps?limit=100${after ? `&after=${encodeURIComponent(after)}` : ""}`)), [after]);
  const [created, setCreated] = useState<AppCreated | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [busyID, setBusyID] = useState("");

  useEffect(() => {
    if (!list.data) return;
    const page = list.data.apps ?? [];
    setShown((s) => (after ? [...s.filter((a) => !page.some((p) => p.id === a.id)), ...page] : page));
  }, [list.data]);

  function replace(a: AppView) {
    setShown((s) => s.map((x) => (x.id === a.id ? { ...x, ...a } : x)));
  }

  async function toggle(a: AppView) {
    setActionError(null);
    setBusyID(a.id);
    try {
      if (a.disabled) {
        const v = await api.post<AppView>(api.adminPath(`/apps/${encodeURIComponent(a.id)}/enable`));
        replace(v);
        announce(`App ${a.id} enabled`);
      } else {
        const v = await api.post<AppView & { sessionsClosed: number }>(api.adminPath(`/apps/${encodeURIComponent(a.id)}/disable`));
        replace(v);
        announce(`App ${a.id} disabled; ${v.sessionsClosed} live session${v.sessionsClosed === 1 ? "" : "s"} closed`);
      }
    } catch (e) {
      setActionError(e);
    } finally {
      setBusyID("");
    }
  }

  return (
    <>
      {created ? (
        <CreatedApp app={created} onDone={() => setCreated(null)} />
      ) : (
        <CreateApp
          api={api}
          onCreated={(a) => {
            setCreated(a);
            setShown((s) => [...s.filter((x) => x.id !== a.id), a].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)));
          }}
        />
      )}
      <section aria-labelledby="apps-list">
        <h2 id="apps-list">Apps</h2>
        <ErrorBox error={list.error} />
        <ErrorBox error={actionError} />
        <Table
          caption={list.loading && shown.length === 0 ? "Apps (loading…)" : `Apps (${shown.length}${list.data?.next ? "+" : ""})`}
          rows={shown}
          rowKey={(a) => a.id}
          empty={list.loading ? "Loading…" : "No app yet."}
          columns={[
            { label: "ID", mono: true, render: (a) => a.id },
            { label: "Name", render: (a) => a.name },
            {
              label: "State",
              render: (a) =>
                a.disabled ? (
                  <span class="bad" title={a.disabledAt ? `since ${when(a.disabledAt)}` : undefined}>
                    disabled
                  </span>
                ) : (
                  <span class="ok">enabled</span>
                ),
            },
            { label: "Created", render: (a) => when(a.createdAt) },
            {
              label: "Action",
              render: (a) => (
                <Button
                  kind={a.disabled ? "secondary" : "danger"}
                  busy={busyID === a.id}
                  onClick={() => toggle(a)}
                  aria-label={`${a.disabled ? "Enable" : "Disable"} app ${a.id}`}
                >
                  {a.disabled ? "Enable" : "Disable"}
                </Button>
              ),
            },
          ]}
        />
        <div class="row">
          {list.data?.next ? (
            <Button onClick={() => setAfter(list.data!.next!)} busy={list.loading}>
              Load more apps
            </Button>
          ) : null}
          <Button
            onClick={() => {
              if (after) setAfter("");
              else list.reload();
            }}
            busy={list.loading}
          >
            Refresh
          </Button>
        </div>
      </section>
    </>
  );
}

function CreateApp({ api, onCreated }: { api: PageProps["api"]; onCreated: (a: AppCreated) => void }): JSX.Element {
  const [id, setID] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const body: { id?: string; name: string } = { name: name.trim() };
      if (id.trim()) body.id = id.trim();
      const a = await api.post<AppCreated>(api.adminPath("/apps"), body);
      setID("");
      setName("");
      announce(`App ${a.id} created`);
      onCreated(a);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="create-app" class="card">
      <h2 id="create-app">Create an app</h2>
      <form onSubmit={submit} aria-label="Create an app">
        <div class="row">
          <Field label="Name" name="name" value={name} onInput={setName} required />
          <Field label="App ID" name="id" value={id} onInput={setID} mono hint="Optional: the server picks one when empty." />
        </div>
        <ErrorBox error={error} />
        <Button kind="primary" type="submit" busy={busy}>
          Create app
        </Button>
      </form>
    </section>
  );
}

function CreatedApp({ app, onDone }: { app: AppCreated; onDone: () => void }): JSX.Element {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
  }, []);
  return (
    <section aria-labelledby="created-app" class="card created-app">
      <h2 id="created-app" ref={heading} tabIndex={-1}>
        App {app.id} created
      </h2>
      <p class="warn">
        Copy the server secret and the admin key now: the server never shows them again (rotate them to get new ones).
      </p>
      <dl class="kv">
        <dt>App ID</dt>
        <dd>
          <code data-testid="created-id">{app.id}</code>
        </dd>
        <dt>Server secret</dt>
        <dd>
          <code class="secret" data-testid="created-secret">
            {app.secret}
          </code>
        </dd>
        <dt>Admin key</dt>
        <dd>
          <code class="secret" data-testid="created-admin-key">
            {app.adminKey}
          </code>
        </dd>
      </dl>
      <Button kind="primary" onClick={onDone}>
        I have copied them
      </Button>
    </section>
  );
}
