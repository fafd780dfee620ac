import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type ApiClient, type PageProps } from "../api";
import { Button, ErrorBox, Field, Table, announce, useId, useLoad } from "../ui";
import { vendors } from "../vendors";

/** POST /push/test's request. */
type TestPushRequest = { pushID: string; title: string; content: string; payload: string; resourcesID: string };

/** POST /push/test's reply: the dispatcher's decision or the vendor's
 * answer (docs/openapi.yaml). */
type TestPushReply = {
  pushID: string;
  vendor: string;
  environment: string;
  kind: string;
  outcome: string;
  status: number;
  reason?: string;
  note?: string;
  vendorID?: string;
  retryAfterMs?: number;
  latencyMs: number;
};

type Device = {
  pushID: string;
  vendor: string;
  environment: string;
  platform: string;
  bound: boolean;
  enabled: boolean;
  voip: boolean;
  updatedAt: string;
};

type EmulatorView = { emulating: boolean; phonesPath: string };

/** A phone of the phones API (docs/emulated-phone.md). */
type Phone = {
  phoneID: string;
  vendor: string;
  token: string;
  voipToken?: string;
  bundleID: string;
  environment: string;
  platform: string;
  state: string;
};

/** One event of an emulated phone. */
type PhoneEvent = {
  event: string;
  vendor: string;
  title?: string;
  content?: string;
  payload?: string;
  kind?: string;
  seq?: number;
  messageID?: string;
  callID?: string;
  heraldTruncated?: string;
};

const states = ["background", "foreground", "killed"];

/** One test push sent and what came back. */
type Sent = {
  request: TestPushRequest;
  at: Date;
  roundTripMs: number;
  reply?: TestPushReply;
  error?: unknown;
};

// The phone made on this page and its events outlive the page's
// component (a visit to another page and back finds them), not the tab;
// kept by app, as the phones are the app's.
const keptPhones = new Map<string, Phone>();

function appOf(api: ApiClient): string {
  return api.session.mode === "app" ? api.session.appID : "";
}

/** Online push debugging: pick or paste a PushID, send a test push to
 * it, and read the vendor's answer; with herald serve --emulate, make a
 * simulated phone and watch its callbacks as pushes land. */
export function Debug({ api, query }: PageProps): JSX.Element {
  const [pushID, setPushID] = useState(query.get("pushID") ?? "");
  const [title, setTitle] = useState("Test push");
  const [content, setContent] = useState("Hello from the Herald console");
  const [payload, setPayload] = useState("");
  const [resourcesID, setResourcesID] = useState("");
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<Sent | null>(null);
  const [phone, setPhone] = useState<Phone | null>(() => keptPhones.get(appOf(api)) ?? null);
  const resources = useLoad(() => api.get<{ resources: { id: string }[] }>(api.appPath("/push/resources")), []);
  const emulator = useLoad(() => api.get<EmulatorView>(api.appPath("/emulator")), []);
  const resultHeading = useRef<HTMLHeadingElement>(null);
  const resID = useId("res");

  useEffect(() => {
    if (sent) resultHeading.current?.focus();
  }, [sent]);

  async function send(e: Event) {
    e.preventDefault();
    const request: TestPushRequest = { pushID: pushID.trim(), title, content, payload, resourcesID };
    setBusy(true);
    const start = performance.now();
    const at = new Date();
    try {
      const reply = await api.post<TestPushReply>(api.appPath("/push/test"), request);
      setSent({ request, at, roundTripMs: Math.round(performance.now() - start), reply });
      announce(`Test push: ${reply.outcome}${reply.status ? ` (HTTP ${reply.status})` : ""}`);
    } catch (err) {
      setSent({ request, at, roundTripMs: Math.round(performance.now() - start), error: err });
      announce("Test push refused");
    } finally {
      setBusy(false);
    }
  }

  // Whether the simulated phone's card (or the hint without the
  // emulators) goes above the test push form is known only once the
  // emulator view is loaded. Until then the form is hidden: the card
  // arriving would push it down some 200 px, under a pointer aimed at
  // "Send test push" (the click lands on the payload, nothing is sent).
  const settled = emulator.data !== undefined || emulator.error != null;

  return (
    <>
      <PickDevice api={api} onPick={setPushID} />
      {settled ? null : (
        <p class="muted" data-testid="debug-loading">
          Loading…
        </p>
      )}
      {emulator.data?.emulating ? (
        <SimulatedPhone
          api={api}
          phonesPath={emulator.data.phonesPath}
          phone={phone}
          onPhone={(p) => {
            if (p) keptPhones.set(appOf(api), p);
            else keptPhones.delete(appOf(api));
            setPhone(p);
          }}
          onPushID={setPushID}
        />
      ) : emulator.data ? (
        <p class="hint" data-testid="not-emulating">
          To make a simulated phone here, start the server with <code>herald serve --emulate</code> (the vendors' emulators in process).
        </p>
      ) : null}
      <ErrorBox error={emulator.error} />
      <section aria-labelledby="debug-send" class="card" hidden={!settled}>
        <h2 id="debug-send">Send a test push</h2>
        <form onSubmit={send} aria-label="Send a test push">
          <Field
            label="PushID"
            name="pushID"
            value={pushID}
            onInput={setPushID}
            required
            mono
            hint="The device's PushID (the push SDK's registered callback gives it): paste one, or pick it from a user's devices above."
          />
          <div class="row">
            <Field label="Title" name="title" value={title} onInput={setTitle} />
            <Field label="Content" name="content" value={content} onInput={setContent} />
          </div>
          <Field label="Payload" name="payload" value={payload} onInput={setPayload} multiline rows={3} mono hint="Handed to the app as the push's payload (the vendor's custom data)." />
          <div class="field">
            <label for={resID}>Resources</label>
            <select id={resID} name="resourcesID" value={resourcesID} onChange={(e) => setResourcesID((e.currentTarget as HTMLSelectElement).value)}>
              <option value="">None</option>
              {(resources.data?.resources ?? []).map((r) => (
                <option key={r.id} value={r.id}>
                  {r.id}
                </option>
              ))}
            </select>
            {resources.error ? <ErrorBox error={resources.error} /> : null}
          </div>
          <Button kind="primary" type="submit" busy={busy}>
            Send test push
          </Button>
        </form>
      </section>
      {sent ? (
        <section aria-labelledby="debug-result" class="card debug-result" data-testid="debug-result">
          <h2 id="debug-result" ref={resultHeading} tabIndex={-1}>
            {sent.reply ? `Vendor's answer: ${sent.reply.outcome}` : "Test push refused"}
          </h2>
          {sent.error ? <ErrorBox error={sent.error} /> : null}
          {sent.reply ? <Answer reply={sent.reply} /> : null}
          <dl class="kv">
            <dt>Sent at</dt>
            <dd>{sent.at.toLocaleTimeString()}</dd>
            <dt>Round trip</dt>
            <dd>{sent.roundTripMs} ms (the console to the server and back)</dd>
          </dl>
          <h3>Request</h3>
          <pre data-testid="debug-request">{`POST ${api.appPath("/push/test")}\n${JSON.stringify(sent.request, null, 2)}`}</pre>
          {sent.reply ? (
            <details>
              <summary>The reply as JSON</summary>
              <pre>{JSON.stringify(sent.reply, null, 2)}</pre>
            </details>
          ) : null}
        </section>
      ) : null}
    </>
  );
}

function Answer({ reply }: { reply: TestPushReply }): JSX.Element {
  const good = reply.outcome === "delivered" || reply.outcome === "ok" || reply.outcome === "sent";
  return (
    <dl class="kv" data-testid="debug-answer">
      <dt>Outcome</dt>
      <dd>
        <span class={good ? "ok" : reply.outcome === "failed" || reply.outcome.startsWith("drop") ? "bad" : "warn"} data-testid="debug-outcome">
          {reply.outcome}
        </span>
      </dd>
      <dt>Vendor's HTTP status</dt>
      <dd>{reply.status || "none (not sent)"}</dd>
      {reply.reason ? (
        <>
          <dt>Reason</dt>
          <dd class="mono">{reply.reason}</dd>
        </>
      ) : null}
      <dt>Vendor</dt>
      <dd>
        {reply.vendor} ({reply.environment})
      </dd>
      <dt>Push sent as</dt>
      <dd>{reply.kind}</dd>
      <dt>PushID</dt>
      <dd class="mono">{reply.pushID}</dd>
      {reply.vendorID ? (
        <>
          <dt>Vendor's message ID</dt>
          <dd class="mono">{reply.vendorID}</dd>
        </>
      ) : null}
      {reply.retryAfterMs ? (
        <>
          <dt>Retry after</dt>
          <dd>{reply.retryAfterMs} ms</dd>
        </>
      ) : null}
      {reply.note ? (
        <>
          <dt>Note</dt>
          <dd>{reply.note}</dd>
        </>
      ) : null}
      <dt>Vendor's latency</dt>
      <dd data-testid="debug-latency">{reply.latencyMs} ms</dd>
    </dl>
  );
}

/** A user's devices, to pick a PushID from. */
function PickDevice({ api, onPick }: { api: ApiClient; onPick: (pushID: string) => void }): JSX.Element {
  const [user, setUser] = useState("");
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [shownUser, setShownUser] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function find(e: Event) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const u = user.trim();
      const r = await api.get<{ userID: string; devices: Device[] }>(api.appPath(`/users/${encodeURIComponent(u)}/devices`));
      setDevices(r.devices ?? []);
      setShownUser(r.userID);
      announce(`${r.devices.length} device${r.devices.length === 1 ? "" : "s"} of ${r.userID}`);
    } catch (err) {
      setError(err);
      setDevices(null);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="debug-pick" class="card">
      <h2 id="debug-pick">Pick a device</h2>
      <form onSubmit={find} aria-label="Find a user's devices" class="row">
        <Field label="User ID" name="userID" value={user} onInput={setUser} required mono />
        <Button type="submit" busy={busy}>
          Find devices
        </Button>
      </form>
      <ErrorBox error={error} />
      {devices ? (
        <Table
          caption={`Devices of ${shownUser} (${devices.length})`}
          rows={devices}
          rowKey={(d) => d.pushID}
          empty="No device is bound to this user."
          columns={[
            { label: "PushID", mono: true, render: (d) => d.pushID },
            { label: "Vendor", render: (d) => `${d.vendor} (${d.environment})` },
            { label: "Platform", render: (d) => d.platform },
            { label: "Push", render: (d) => (d.enabled ? <span class="ok">on</span> : <span class="bad">off</span>) },
            {
              label: "Use",
              render: (d) => (
                <Button
                  onClick={() => {
                    onPick(d.pushID);
                    announce(`PushID ${d.pushID} picked`);
                  }}
                  aria-label={`Use PushID ${d.pushID}`}
                >
                  Use
                </Button>
              ),
            },
          ]}
        />
      ) : null}
    </section>
  );
}

// A long-poll of a phone's events waits this long at most (the phones
// API allows a minute; 25 s stays under common proxies' idle timeouts).
const eventsWait = "25s";

/** The fetch of the phones API: the ApiClient's, with a signal to stop a
 * long-poll when the page goes. Its errors are {"error": "..."}. */
async function phonesCall<T>(api: ApiClient, method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Authorization: `Bearer ${api.session.key}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(api.base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
    redirect: "error",
    signal,
  });
  const text = await resp.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!resp.ok) {
    const d = data as { code?: unknown; message?: unknown; error?: unknown } | undefined;
    if (d && typeof d.code === "number") throw new ApiError(resp.status, d.code, String(d.message ?? ""));
    throw new ApiError(resp.status, 0, d && typeof d.error === "string" ? d.error : `HTTP ${resp.status}`);
  }
  return data as T;
}

/** Makes a simulated phone (the emulated phones API of herald serve
 * --emulate) and shows its callbacks as pushes land. */
function SimulatedPhone({ api, phonesPath, phone, onPhone, onPushID }: {
  api: ApiClient;
  phonesPath: string;
  phone: Phone | null;
  onPhone: (p: Phone | null) => void;
  onPushID: (id: string) => void;
}): JSX.Element {
  const [vendor, setVendor] = useState<string>(vendors[0].id);
  const [debug, setDebug] = useState(true);
  const [state, setState] = useState("background");
  const [voip, setVoip] = useState(false);
  const [passThrough, setPassThrough] = useState(true);
  const voipID = useId("voip");
  const ptID = useId("pt");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // The PushID the server gave a phone, with the phone it is of: another
  // phone made since shows none ("registering…") until its own comes, not
  // the last phone's.
  const [registered, setRegistered] = useState<{ phoneID: string; pushID: string } | null>(null);
  const phonePushID = phone && registered?.phoneID === phone.phoneID ? registered.pushID : null;
  const vendorID = useId("vendor");
  const stateID = useId("state");
  const debugID = useId("debug");
  const base = phonesPath.replace(/\/$/, "");

  useEffect(() => {
    if (!phone || api.session.mode !== "app") {
      setRegistered(null);
      return;
    }
    // The phone's token becomes a device of the app, as the app on the
    // phone would register it (unbound: a login binds it to its user); the
    // server answers the PushID.
    let live = true;
    const reg: Record<string, unknown> = {
      vendor: phone.vendor,
      token: phone.token,
      environment: phone.environment,
      bundleID: phone.bundleID,
      platform: phone.platform,
    };
    if (phone.voipToken) reg.voipToken = phone.voipToken;
    api
      .post<{ pushID: string }>(api.appPath("/push/devices"), reg)
      .then((r) => {
        if (!live || !r) return;
        setRegistered({ phoneID: phone.phoneID, pushID: r.pushID });
        onPushID(r.pushID);
      })
      .catch((err) => {
        if (live) setError(err);
      });
    return () => {
      live = false;
    };
  }, [phone?.phoneID]);

  async function create(e: Event) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const body: Record<string, unknown> = { vendor, debug, state };
      if (vendor === "apns" && voip) body.voip = true;
      if (vendor === "huawei" && passThrough) body.permissions = ["huawei-high-priority-pass-through"];
      const p = await phonesCall<Phone>(api, "POST", base, body);
      onPhone(p);
      announce(`Simulated ${p.vendor} phone ${p.phoneID} created`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function remove(p: Phone) {
    setError(null);
    setBusy(true);
    try {
      await phonesCall(api, "DELETE", `${base}/${encodeURIComponent(p.phoneID)}`);
      onPhone(null);
      announce(`Phone ${p.phoneID} removed`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="debug-phone" class="card">
      <h2 id="debug-phone">Simulated phone</h2>
      <p class="hint">
        This server runs the vendors' emulators (<code>herald serve --emulate</code>): make a phone with the app on it, and see what its
        system and push SDK do with each push.
      </p>
      <form onSubmit={create} aria-label="Create a simulated phone" class="row">
        <div class="field">
          <label for={vendorID}>Vendor</label>
          <select id={vendorID} name="vendor" value={vendor} onChange={(e) => setVendor((e.currentTarget as HTMLSelectElement).value)}>
            {vendors.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for={stateID}>App state</label>
          <select id={stateID} name="state" value={state} onChange={(e) => setState((e.currentTarget as HTMLSelectElement).value)}>
            {states.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field check">
          <input id={debugID} type="checkbox" name="debug" checked={debug} onChange={(e) => setDebug((e.currentTarget as HTMLInputElement).checked)} />
          <label for={debugID}>Debug build</label>
        </div>
        {vendor === "apns" ? (
          <div class="field check">
            <input id={voipID} type="checkbox" name="voip" checked={voip} onChange={(e) => setVoip((e.currentTarget as HTMLInputElement).checked)} />
            <label for={voipID}>VoIP (PushKit) token</label>
          </div>
        ) : null}
        {vendor === "huawei" ? (
          <div class="field check">
            <input id={ptID} type="checkbox" name="passThrough" checked={passThrough} onChange={(e) => setPassThrough((e.currentTarget as HTMLInputElement).checked)} />
            <label for={ptID}>High-priority pass-through permission</label>
          </div>
        ) : null}
        <Button type="submit" busy={busy}>
          {phone ? "Create another phone" : "Create phone"}
        </Button>
      </form>
      <ErrorBox error={error} />
      {phone ? (
        <>
          <dl class="kv" data-testid="phone">
            <dt>Phone</dt>
            <dd>
              <code data-testid="phone-id">{phone.phoneID}</code> ({phone.vendor}, {phone.platform}, {phone.environment})
            </dd>
            <dt>Vendor token</dt>
            <dd>
              <code data-testid="phone-token">{phone.token}</code>
            </dd>
            {phone.voipToken ? (
              <>
                <dt>VoIP token</dt>
                <dd>
                  <code>{phone.voipToken}</code>
                </dd>
              </>
            ) : null}
            <dt>Bundle ID</dt>
            <dd>
              <code>{phone.bundleID}</code>
            </dd>
            <dt>PushID</dt>
            <dd>
              {phonePushID ? (
                <>
                  <code data-testid="phone-pushid">{phonePushID}</code>{" "}
                  <Button onClick={() => onPushID(phonePushID)} aria-label={`Use the phone's PushID ${phonePushID}`}>
                    Use
                  </Button>
                </>
              ) : (
                <span class="muted">registering…</span>
              )}
            </dd>
          </dl>
          <p class="hint">
            The console registered the phone's token as a device of the app (POST /push/devices), as the app on the phone does
            at login; it is bound to no user until a login binds it.
          </p>
          <div class="row">
            <PhoneState api={api} base={base} phone={phone} />
            <Button kind="danger" busy={busy} onClick={() => remove(phone)} aria-label={`Remove phone ${phone.phoneID}`}>
              Remove phone
            </Button>
          </div>
          <PhoneEvents key={phone.phoneID} api={api} base={base} phone={phone} />
        </>
      ) : null}
    </section>
  );
}

function PhoneState({ api, base, phone }: { api: ApiClient; base: string; phone: Phone }): JSX.Element {
  const [state, setState] = useState(phone.state);
  const [error, setError] = useState<unknown>(null);
  const id = useId("pstate");
  async function change(s: string) {
    setState(s);
    setError(null);
    try {
      await phonesCall(api, "PUT", `${base}/${encodeURIComponent(phone.phoneID)}/state`, { state: s });
      phone.state = s;
      announce(`Phone ${phone.phoneID} now ${s}`);
    } catch (err) {
      setError(err);
    }
  }
  return (
    <div class="field">
      <label for={id}>The phone's app state</label>
      <select id={id} value={state} onChange={(e) => change((e.currentTarget as HTMLSelectElement).value)}>
        {states.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
      <ErrorBox error={error} />
    </div>
  );
}

type Arrived = PhoneEvent & { n: number; at: Date };

/** The phone's events, long-polled from the phones API while the page
 * is open: every one in a table, newest first, and one announcement per
 * batch (not one per event) for screen readers. */
function PhoneEvents({ api, base, phone }: { api: ApiClient; base: string; phone: Phone }): JSX.Element {
  const [events, setEvents] = useState<Arrived[]>([]);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const ctl = new AbortController();
    let after = 0;
    let failures = 0;
    (async () => {
      while (!ctl.signal.aborted) {
        try {
          const r = await phonesCall<{ deliveries: PhoneEvent[]; next: number }>(
            api,
            "GET",
            `${base}/${encodeURIComponent(phone.phoneID)}/events?after=${after}&wait=${eventsWait}`,
            undefined,
            ctl.signal,
          );
          failures = 0;
          setError(null);
          const got = r.deliveries ?? [];
          if (got.length > 0) {
            const at = new Date();
            const start = after;
            setEvents((es) => [...got.map((e, i) => ({ ...e, n: start + i + 1, at })).reverse(), ...es]);
            announce(`Phone ${phone.phoneID}: ${got.map((e) => e.event).join(", ")}`);
          }
          after = r.next ?? after + got.length;
        } catch (err) {
          if (ctl.signal.aborted) return;
          setError(err);
          // The phone is gone (404) or the emulators stop: no tight loop.
          if (err instanceof ApiError && err.status === 404) return;
          failures++;
          await new Promise((res) => setTimeout(res, Math.min(30000, 1000 * 2 ** failures)));
        }
      }
    })();
    return () => ctl.abort();
  }, [phone.phoneID]);

  return (
    <div data-testid="phone-events">
      <h3>Callbacks on the phone</h3>
      <ErrorBox error={error} />
      <Table
        caption={`Events of phone ${phone.phoneID} (${events.length})`}
        rows={events}
        rowKey={(e) => String(e.n)}
        empty="None yet: send a push to the phone's PushID."
        columns={[
          { label: "#", render: (e) => e.n },
          { label: "Callback", render: (e) => <strong>{e.event}</strong> },
          { label: "Kind", render: (e) => e.kind ?? "" },
          { label: "Title", render: (e) => e.title ?? "" },
          { label: "Content", render: (e) => e.content ?? "" },
          { label: "Payload", mono: true, render: (e) => e.payload ?? "" },
          { label: "Push", render: (e) => (e.seq ? `#${e.seq}` : "") },
          { label: "Vendor's ID", mono: true, render: (e) => e.messageID ?? "" },
          { label: "At", render: (e) => e.at.toLocaleTimeString() },
        ]}
      />
    </div>
  );
}
