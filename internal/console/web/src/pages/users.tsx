import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type ApiClient, type PageProps } from "../api";
import { Button, ErrorBox, Field, Table, announce, navigate, routeHref, useLoad } from "../ui";

/** A live session of the user on this node (POST .../users/query). */
type SessionView = { platform: string; deviceID: string; since: string };

/** A user as the server API shows it: profile, live sessions, devices. */
type UserView = {
  userID: string;
  nickname: string;
  avatarURL: string;
  extra: string;
  createdAt: string;
  updatedAt: string;
  tokensValidAfter?: string;
  online: boolean;
  sessions: SessionView[];
  devices: number;
};

type QueryReply = {
  users: UserView[];
  errorUserList: { userID: string; code: number; message: string }[];
};

/** A device bound to the user (GET .../users/{userID}/devices). */
export type DeviceView = {
  pushID: string;
  vendor: string;
  environment: string;
  platform: string;
  bundleID: string;
  userID: string;
  bound: boolean;
  enabled: boolean;
  voip: boolean;
  foreground: number;
  registeredAt: string;
  updatedAt: string;
};

type DeviceList = { userID: string; devices: DeviceView[] };

/** What the page found for a user ID: the user (null when the app has no
 * such user; devices may still be bound to the ID) and its devices. */
type Found = { userID: string; user: UserView | null; notFound?: ApiError; devices: DeviceView[] };

function when(iso?: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function plural(n: number, one: string, many = one + "s"): string {
  return `${n} ${n === 1 ? one : many}`;
}

async function findUser(api: ApiClient, userID: string): Promise<Found> {
  const path = `/users/${encodeURIComponent(userID)}`;
  const [q, d] = await Promise.all([
    api.post<QueryReply>(api.appPath("/users/query"), { userIDs: [userID] }),
    api.get<DeviceList>(api.appPath(`${path}/devices`)),
  ]);
  const user = q.users?.[0] ?? null;
  const e = q.errorUserList?.[0];
  if (!user && e && e.code !== 40401) {
    // An invalid user ID: the devices call refused it too.
    throw new ApiError(400, e.code, e.message);
  }
  return { userID, user, notFound: user || !e ? undefined : new ApiError(404, e.code, e.message), devices: d.devices ?? [] };
}

/** An action waiting for the operator's confirmation. */
type Pending = {
  /** What is asked: "Unbind device D from bob?". */
  question: string;
  /** What it does, in words. */
  consequence: string;
  /** The confirm button's label. */
  confirm: string;
  run: () => Promise<string>;
};

/** Users: find a user by ID, see its profile, live sessions and devices;
 * unbind or unregister a device, kick the user (each confirmed first). */
export function Users({ api, query }: PageProps): JSX.Element {
  const userID = (query.get("user") ?? "").trim();
  const [input, setInput] = useState(userID);
  const found = useLoad<Found | null>(() => (userID ? findUser(api, userID) : Promise.resolve(null)), [userID]);
  const [pending, setPending] = useState<Pending | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);
  const [done, setDone] = useState("");
  const results = useRef<HTMLHeadingElement>(null);
  const searched = useRef(false);

  useEffect(() => setInput(userID), [userID]);

  // A search moves the focus to what it found, and says it.
  useEffect(() => {
    if (found.loading || !searched.current) return;
    searched.current = false;
    const f = found.data;
    if (f) {
      announce(
        f.user
          ? `User ${f.userID}: ${f.user.online ? "online" : "offline"}, ${plural(f.devices.length, "device")}`
          : `No user ${f.userID}; ${plural(f.devices.length, "device")} bound to the ID`,
      );
    }
    results.current?.focus();
  }, [found.loading, found.data]);

  function search(e: Event) {
    e.preventDefault();
    const id = input.trim();
    if (!id) return;
    searched.current = true;
    setPending(null);
    setActionError(null);
    setDone("");
    if (id === userID) found.reload();
    else navigate("users", { user: id });
  }

  async function confirm() {
    if (!pending) return;
    setBusy(true);
    setActionError(null);
    try {
      const msg = await pending.run();
      setPending(null);
      setDone(msg);
      announce(msg);
      found.reload();
      results.current?.focus();
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  }

  const f = found.data;
  const path = `/users/${encodeURIComponent(userID)}`;

  function ask(p: Pending) {
    setActionError(null);
    setDone("");
    setPending(p);
  }

  return (
    <>
      <section class="card" aria-labelledby="users-find">
        <h2 id="users-find">Find a user</h2>
        <form onSubmit={search} aria-label="Find a user" role="search">
          <div class="row">
            <Field label="User ID" name="userID" value={input} onInput={setInput} mono required hint="The exact user ID, as your backend issues it." />
          </div>
          <Button kind="primary" type="submit" busy={found.loading && !!userID}>
            Find
          </Button>
        </form>
      </section>

      {userID ? (
        <section aria-labelledby="users-result" class="users-result">
          <h2 id="users-result" ref={results} tabIndex={-1}>
            {f?.user ? `User ${f.userID}` : `User ID ${userID}`}
          </h2>
          <ErrorBox error={found.error} />
          {found.loading && !f ? <p class="muted">Loading…</p> : null}
          {pending ? <Confirm pending={pending} busy={busy} error={actionError} onConfirm={confirm} onCancel={() => {
                setPending(null);
                results.current?.focus();
              }} /> : null}
          {!pending ? <ErrorBox error={actionError} /> : null}
          {done ? (
            <p class="ok" data-testid="users-done">
              {done}
            </p>
          ) : null}
          {f ? (
            <>
              {f.user ? (
                <Profile user={f.user} />
              ) : (
                <p class="warn" data-testid="user-not-found">
                  The app has no user <code>{f.userID}</code>
                  {f.notFound?.code ? ` (${f.notFound.code})` : ""}.{" "}
                  {f.devices.length ? "Devices are still bound to this ID:" : "No device is bound to this ID either."}
                </p>
              )}
              {f.user ? (
                <>
                  <Table
                    caption={`Live sessions (${f.user.sessions.length})`}
                    rows={f.user.sessions}
                    rowKey={(s) => `${s.platform}/${s.deviceID}/${s.since}`}
                    empty="Offline: no live session on this node."
                    columns={[
                      { label: "Platform", render: (s) => s.platform },
                      { label: "Device ID", mono: true, render: (s) => s.deviceID },
                      { label: "Since", render: (s) => when(s.since) },
                    ]}
                  />
                  <div class="row">
                    <Button
                      kind="danger"
                      aria-label={`Kick user ${f.userID}`}
                      disabled={f.user.sessions.length === 0}
                      onClick={() =>
                        ask({
                          question: `Kick user ${f.userID}?`,
                          consequence: `Closes its ${plural(f.user!.sessions.length, "live session")} (the clients get a "kicked" event and may log in again).`,
                          confirm: "Kick",
                          run: async () => {
                            const r = await api.post<{ sessions: number }>(api.appPath(`${path}/kick`));
                            return `User ${f.userID} kicked: ${plural(r.sessions, "session")} closed`;
                          },
                        })
                      }
                    >
                      Kick user
                    </Button>
                  </div>
                </>
              ) : null}
              <Table
                caption={`Devices bound to ${f.userID} (${f.devices.length})`}
                rows={f.devices}
                rowKey={(d) => d.pushID}
                empty="No device bound."
                columns={[
                  { label: "PushID", mono: true, render: (d) => d.pushID },
                  { label: "Vendor", render: (d) => `${d.vendor} (${d.environment})` },
                  {
                    label: "Pushes",
                    render: (d) => (
                      <>
                        {d.enabled ? <span class="ok">enabled</span> : <span class="bad">disabled</span>}
                        {d.voip ? <span class="badge">VoIP</span> : null}
                      </>
                    ),
                  },
                  {
                    label: "Look into",
                    render: (d) => (
                      <ul class="links">
                        <li>
                          <a href={routeHref("trace", { pushID: d.pushID })} aria-label={`Trace of device ${d.pushID}`}>
                            Trace
                          </a>
                        </li>
                        <li>
                          <a href={routeHref("debug", { pushID: d.pushID })} aria-label={`Debug device ${d.pushID}`}>
                            Debug
                          </a>
                        </li>
                      </ul>
                    ),
                  },
                  {
                    label: "Actions",
                    render: (d) => (
                      <div class="row">
                        <Button
                          aria-label={`Unbind device ${d.pushID}`}
                          onClick={() =>
                            ask({
                              question: `Unbind device ${d.pushID} from ${f.userID}?`,
                              consequence: "It stays registered, but gets no push for this user until the user logs in on it again.",
                              confirm: "Unbind",
                              run: async () => {
                                await api.del(api.appPath(`/push/bindings/${encodeURIComponent(d.pushID)}?userID=${encodeURIComponent(f.userID)}`));
                                return `Device ${d.pushID} unbound from ${f.userID}`;
                              },
                            })
                          }
                        >
                          Unbind
                        </Button>
                        <Button
                          kind="danger"
                          aria-label={`Unregister device ${d.pushID}`}
                          onClick={() =>
                            ask({
                              question: `Unregister device ${d.pushID}?`,
                              consequence:
                                "Removes the device and drops its pending pushes, as the device's own unregisterPush does; it registers again at its next login.",
                              confirm: "Unregister",
                              run: async () => {
                                await api.del(api.appPath(`${path}/devices/${encodeURIComponent(d.pushID)}`));
                                return `Device ${d.pushID} unregistered`;
                              },
                            })
                          }
                        >
                          Unregister
                        </Button>
                      </div>
                    ),
                  },
                  { label: "Platform", render: (d) => d.platform || "—" },
                  { label: "Bundle ID", mono: true, render: (d) => d.bundleID || "—" },
                  { label: "Registered", render: (d) => when(d.registeredAt) },
                  { label: "Updated", render: (d) => when(d.updatedAt) },
                ]}
              />
              <p>
                <a href={routeHref("trace", { user: f.userID })}>Delivery trace of {f.userID}</a>
              </p>
            </>
          ) : null}
        </section>
      ) : null}
    </>
  );
}

function Profile({ user }: { user: UserView }): JSX.Element {
  return (
    <dl class="kv" data-testid="user-profile">
      <dt>User ID</dt>
      <dd>
        <code>{user.userID}</code>
      </dd>
      <dt>Nickname</dt>
      <dd>{user.nickname || <span class="muted">none</span>}</dd>
      <dt>State</dt>
      <dd data-testid="user-state">
        {user.online ? <span class="ok">online ({plural(user.sessions.length, "session")})</span> : <span class="muted">offline</span>}
      </dd>
      <dt>Devices</dt>
      <dd>{user.devices}</dd>
      <dt>Created</dt>
      <dd>{when(user.createdAt)}</dd>
      <dt>Updated</dt>
      <dd>{when(user.updatedAt)}</dd>
      {user.tokensValidAfter ? (
        <>
          <dt>Tokens valid after</dt>
          <dd>{when(user.tokensValidAfter)}</dd>
        </>
      ) : null}
      {user.avatarURL ? (
        <>
          <dt>Avatar URL</dt>
          <dd>
            <code>{user.avatarURL}</code>
          </dd>
        </>
      ) : null}
      {user.extra ? (
        <>
          <dt>Extra</dt>
          <dd>
            <code>{user.extra}</code>
          </dd>
        </>
      ) : null}
    </dl>
  );
}

/** The confirmation of an action: the question gets the focus (a screen
 * reader reads it with what the action does); Escape or Cancel gives up. */
function Confirm({ pending, busy, error, onConfirm, onCancel }: {
  pending: Pending;
  busy: boolean;
  error: unknown;
  onConfirm: () => void;
  onCancel: () => void;
}): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    box.current?.focus();
  }, [pending]);
  return (
    <div
      class="card confirm"
      role="alertdialog"
      aria-labelledby="confirm-question"
      aria-describedby="confirm-consequence"
      tabIndex={-1}
      ref={box}
      onKeyDown={(e) => {
        if (e.key === "Escape") onCancel();
      }}
    >
      <p id="confirm-question" class="confirm-question">
        {pending.question}
      </p>
      <p id="confirm-consequence">{pending.consequence}</p>
      <ErrorBox error={error} />
      <div class="row">
        <Button kind="danger" busy={busy} onClick={onConfirm} data-testid="confirm">
          {pending.confirm}
        </Button>
        <Button onClick={onCancel} disabled={busy}>
          Cancel
        </Button>
      </div>
    </div>
  );
}
