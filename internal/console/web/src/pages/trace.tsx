import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiClient, PageProps } from "../api";
import { Button, ErrorBox, Field, Table, announce, navigate, routeHref, useLoad } from "../ui";

// Message and job IDs are 64-bit integers: the API sends them as decimal
// strings, and this page keeps them as strings (a JavaScript number
// would round them).

/** One call made to a vendor for a job. */
type AttemptView = { attempt: number; at: string; outcome: string; status: number; reason?: string; latencyMs: number };

/** A push job (GET .../push/trace). */
type JobView = {
  id: string;
  messageID: string;
  kind?: string;
  callID?: string;
  userID: string;
  pushID: string;
  vendor: string;
  status: string;
  reason?: string;
  attemptCount: number;
  notBefore: string;
  expiresAt?: string;
  createdAt: string;
  updatedAt: string;
  pushConfig: { title?: string; content?: string; payload?: string; resourcesID?: string };
  attempts: AttemptView[];
};

type DeviceEvent = { at: string; kind: string; fromUserID?: string; toUserID?: string; reason?: string };

type TraceReply = { jobs: JobView[]; deviceEvents?: DeviceEvent[] };

type ExplainDevice = {
  pushID: string;
  vendor: string;
  environment: string;
  platform: string;
  enabled: boolean;
  eligible: boolean;
  credential: "ok" | "missing" | "failing";
  failing?: string;
  registeredAt: string;
};

/** GET .../push/explain: why a message was, or was not, pushed to a user. */
type ExplainReply = {
  messageID: string;
  userID: string;
  verdict: "pushed" | "pending" | "not_pushed";
  reason: string;
  detail: string;
  inferred: boolean;
  member: boolean;
  message?: {
    id: string;
    conversationID: string;
    convType: number;
    sender: string;
    type: number;
    hasPushConfig: boolean;
    createdAt: string;
  };
  fanout?: { inProgress: boolean; afterUser: string };
  devices: ExplainDevice[];
  jobs: JobView[];
};

type Filters = { message: string; user: string; pushID: string };

/** What the page shows for its filters: the trace (by the most specific
 * filter, narrowed by the others), and the explanation when a message and
 * a user are given. */
type Result = { by: string; trace: TraceReply; explain?: ExplainReply };

// traceLimit is how many jobs one trace asks for: the API's most, as the
// page narrows them by the other filters.
const traceLimit = 500;

function when(iso?: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

async function load(api: ApiClient, f: Filters): Promise<Result> {
  const q = new URLSearchParams({ limit: String(traceLimit) });
  let by: string;
  if (f.pushID) {
    q.set("pushID", f.pushID);
    by = `device ${f.pushID}`;
  } else if (f.message) {
    q.set("messageID", f.message);
    by = `message ${f.message}`;
  } else {
    q.set("userID", f.user);
    by = `user ${f.user}`;
  }
  const explain =
    f.message && f.user
      ? api.get<ExplainReply>(api.appPath(`/push/explain?${new URLSearchParams({ messageID: f.message, userID: f.user })}`))
      : Promise.resolve(undefined);
  const [trace, ex] = await Promise.all([api.get<TraceReply>(api.appPath(`/push/trace?${q}`)), explain]);
  const jobs = (trace.jobs ?? []).filter(
    (j) => (!f.message || j.messageID === f.message) && (!f.user || j.userID === f.user) && (!f.pushID || j.pushID === f.pushID),
  );
  const narrowed = [f.pushID && "device", f.message && "message", f.user && "user"].filter(Boolean);
  if (narrowed.length > 1) by = [f.message && `message ${f.message}`, f.user && `user ${f.user}`, f.pushID && `device ${f.pushID}`].filter(Boolean).join(", ");
  return { by, trace: { jobs, deviceEvents: trace.deviceEvents }, explain: ex };
}

/** The delivery trace: a message's, a user's or a device's push jobs with
 * every vendor call, a device's binding changes, and for a message and a
 * recipient the verdict: why it was, or was not, pushed. */
export function Trace({ api, query }: PageProps): JSX.Element {
  const filters: Filters = {
    message: (query.get("message") ?? "").trim(),
    user: (query.get("user") ?? "").trim(),
    pushID: (query.get("pushID") ?? "").trim(),
  };
  const any = !!(filters.message || filters.user || filters.pushID);
  const [form, setForm] = useState<Filters>(filters);
  const [formError, setFormError] = useState("");
  const key = `${filters.message}\n${filters.user}\n${filters.pushID}`;
  const res = useLoad<Result | null>(() => (any ? load(api, filters) : Promise.resolve(null)), [key]);
  const results = useRef<HTMLHeadingElement>(null);
  const searched = useRef(false);

  useEffect(() => setForm(filters), [key]);

  useEffect(() => {
    if (res.loading || !searched.current) return;
    searched.current = false;
    const r = res.data;
    if (r) {
      announce(
        r.explain
          ? `Verdict ${verdictText(r.explain.verdict)}, ${r.explain.reason}; ${r.trace.jobs.length} push job${r.trace.jobs.length === 1 ? "" : "s"}`
          : `${r.trace.jobs.length} push job${r.trace.jobs.length === 1 ? "" : "s"} found`,
      );
    }
    results.current?.focus();
  }, [res.loading, res.data]);

  function submit(e: Event) {
    e.preventDefault();
    const f = { message: form.message.trim(), user: form.user.trim(), pushID: form.pushID.trim() };
    if (!f.message && !f.user && !f.pushID) {
      setFormError("Give a message ID, a user ID or a PushID.");
      return;
    }
    if (f.message && !/^[1-9][0-9]{0,18}$/.test(f.message)) {
      setFormError("A message ID is a positive decimal integer (as the send reply's messageID).");
      return;
    }
    setFormError("");
    searched.current = true;
    const q: Record<string, string> = {};
    if (f.message) q.message = f.message;
    if (f.user) q.user = f.user;
    if (f.pushID) q.pushID = f.pushID;
    if (f.message === filters.message && f.user === filters.user && f.pushID === filters.pushID) res.reload();
    else navigate("trace", q);
  }

  const r = res.data;
  return (
    <>
      <section class="card" aria-labelledby="trace-find">
        <h2 id="trace-find">Trace a message, a user or a device</h2>
        <form onSubmit={submit} aria-label="Trace" role="search" noValidate class="trace-form">
          <div class="row">
            <Field label="Message ID" name="message" value={form.message} onInput={(v) => setForm({ ...form, message: v })} mono hint="With a user ID: why it was, or was not, pushed to that user." />
            <Field label="User ID" name="user" value={form.user} onInput={(v) => setForm({ ...form, user: v })} mono />
            <Field label="PushID" name="pushID" value={form.pushID} onInput={(v) => setForm({ ...form, pushID: v })} mono hint="A device: its jobs and its binding changes." />
          </div>
          {formError ? (
            <div class="error-box" role="alert">
              <strong class="error-code">Error</strong> <span class="error-message">{formError}</span>
            </div>
          ) : null}
          <Button kind="primary" type="submit" busy={res.loading && any}>
            Trace
          </Button>
        </form>
      </section>
      {any ? (
        <section aria-labelledby="trace-result">
          <h2 id="trace-result" ref={results} tabIndex={-1}>
            {r ? `Trace of ${r.by}` : "Trace"}
          </h2>
          <ErrorBox error={res.error} />
          {res.loading && !r ? <p class="muted">Loading…</p> : null}
          {r?.explain ? <Explain ex={r.explain} /> : null}
          {r ? (
            <>
              {/* With an explanation its evidence has the jobs. */}
              {!r.explain || filters.pushID ? <JobsTable caption={`Push jobs of ${r.by} (${r.trace.jobs.length})`} jobs={r.trace.jobs} /> : null}
              {r.trace.deviceEvents ? <DeviceEvents pushID={filters.pushID} events={r.trace.deviceEvents} /> : null}
              <div class="row">
                <Button onClick={res.reload} busy={res.loading}>
                  Refresh
                </Button>
              </div>
            </>
          ) : null}
        </section>
      ) : null}
    </>
  );
}

function verdictText(v: string): string {
  switch (v) {
    case "pushed":
      return "pushed";
    case "pending":
      return "pending";
    default:
      return "not pushed";
  }
}

/** The verdict, first and large, then the evidence it was read from. */
function Explain({ ex }: { ex: ExplainReply }): JSX.Element {
  const m = ex.message;
  return (
    <section class={`card explain verdict-${ex.verdict}`} aria-labelledby="explain-heading" data-testid="explain">
      <h3 id="explain-heading">
        Was message <code>{ex.messageID}</code> pushed to <code>{ex.userID}</code>?
      </h3>
      <p class="verdict">
        <span class="verdict-word" data-testid="verdict">
          {verdictText(ex.verdict)}
        </span>{" "}
        <code class="verdict-reason" data-testid="reason">
          {ex.reason}
        </code>
        {ex.inferred ? (
          <span class="badge warn" data-testid="inferred" title="the store does not record presence">
            inferred
          </span>
        ) : null}
      </p>
      <p data-testid="detail">{ex.detail}</p>
      {ex.inferred ? <p class="muted">Inferred: the likely reason from what is stored, not a recorded fact.</p> : null}
      <h4>Evidence</h4>
      <dl class="kv">
        <dt>Message</dt>
        <dd>
          {m ? (
            <>
              <code>{m.id}</code> from <code>{m.sender}</code> in {m.convType === 2 ? "group" : "conversation"} <code>{m.conversationID}</code>,{" "}
              {when(m.createdAt)}; {m.hasPushConfig ? "with a push config" : <strong>without a push config</strong>}
            </>
          ) : (
            <span class="bad">not found</span>
          )}
        </dd>
        <dt>Recipient</dt>
        <dd>
          <a href={routeHref("users", { user: ex.userID })}>{ex.userID}</a>
          {m ? (ex.member ? " is in the conversation" : <strong> is not in the conversation</strong>) : null}
        </dd>
        {ex.fanout ? (
          <>
            <dt>Group fan-out</dt>
            <dd>
              {ex.fanout.inProgress ? "in progress" : "done"}
              {ex.fanout.afterUser ? (
                <>
                  , planned up to <code>{ex.fanout.afterUser}</code>
                </>
              ) : null}
            </dd>
          </>
        ) : null}
      </dl>
      {m ? (
        <>
          <Table
            caption={`Devices bound to ${ex.userID} now (${ex.devices.length})`}
            rows={ex.devices}
            rowKey={(d) => d.pushID}
            empty="No device bound."
            columns={[
              { label: "PushID", mono: true, render: (d) => <a href={routeHref("trace", { pushID: d.pushID })}>{d.pushID}</a> },
              { label: "Vendor", render: (d) => `${d.vendor} (${d.environment})` },
              { label: "Pushes", render: (d) => (d.enabled ? <span class="ok">enabled</span> : <span class="bad">disabled</span>) },
              {
                label: "Eligible",
                render: (d) => (d.eligible ? <span class="ok">yes</span> : <span class="bad">no</span>),
              },
              {
                label: "Credential",
                render: (d) =>
                  d.credential === "ok" ? (
                    <span class="ok">ok</span>
                  ) : (
                    <span class="bad">
                      {d.credential}
                      {d.failing ? `: ${d.failing}` : ""}
                    </span>
                  ),
              },
              { label: "Registered", render: (d) => when(d.registeredAt) },
            ]}
          />
          <JobsTable caption={`Push jobs of message ${ex.messageID} for ${ex.userID} (${ex.jobs.length})`} jobs={ex.jobs} />
        </>
      ) : null}
    </section>
  );
}

/** Jobs with their vendor calls, newest first. */
function JobsTable({ caption, jobs }: { caption: string; jobs: JobView[] }): JSX.Element {
  return (
    <Table
      caption={caption}
      rows={jobs}
      rowKey={(j) => j.id}
      empty="No push job."
      columns={[
        { label: "Job", mono: true, render: (j) => j.id },
        {
          label: "Status",
          render: (j) => (
            <span class={j.status === "delivered" ? "ok" : j.status === "pending" || j.status === "held" ? "warn" : "bad"} data-status={j.status}>
              {j.status}
            </span>
          ),
        },
        {
          label: "Attempts",
          render: (j) =>
            j.attempts.length === 0 ? (
              <span class="muted">none yet{j.status === "pending" ? `, not before ${when(j.notBefore)}` : ""}</span>
            ) : (
              <ol class="attempts">
                {j.attempts.map((a) => (
                  <li key={a.attempt}>
                    <span class={a.outcome === "delivered" ? "ok" : "bad"}>{a.outcome}</span>
                    {a.status ? ` HTTP ${a.status}` : ""} · {a.latencyMs} ms · {when(a.at)}
                    {a.reason ? (
                      <>
                        {" "}
                        <code>{a.reason}</code>
                      </>
                    ) : null}
                  </li>
                ))}
              </ol>
            ),
        },
        { label: "Reason", mono: true, render: (j) => j.reason || "—" },
        {
          label: "Message",
          mono: true,
          render: (j) =>
            j.messageID === "0" ? (
              <span class="muted">{j.kind ? j.kind : "push without message"}</span>
            ) : (
              <>
                <a href={routeHref("trace", { message: j.messageID })}>{j.messageID}</a>{" "}
                <a href={routeHref("trace", { message: j.messageID, user: j.userID })} aria-label={`Why message ${j.messageID} to ${j.userID}`}>
                  why?
                </a>
              </>
            ),
        },
        { label: "User", mono: true, render: (j) => <a href={routeHref("users", { user: j.userID })}>{j.userID}</a> },
        { label: "PushID", mono: true, render: (j) => <a href={routeHref("trace", { pushID: j.pushID })}>{j.pushID}</a> },
        { label: "Vendor", render: (j) => j.vendor },
        {
          label: "Push",
          render: (j) => [j.pushConfig.title, j.pushConfig.content].filter(Boolean).join(" — ") || <span class="muted">data</span>,
        },
        { label: "Created", render: (j) => when(j.createdAt) },
      ]}
    />
  );
}

function DeviceEvents({ pushID, events }: { pushID: string; events: DeviceEvent[] }): JSX.Element {
  return (
    <Table
      caption={`Binding changes of device ${pushID} (${events.length})`}
      rows={events}
      rowKey={(e) => `${e.at}/${e.kind}/${e.fromUserID ?? ""}/${e.toUserID ?? ""}`}
      empty="No binding change recorded."
      columns={[
        { label: "When", render: (e) => when(e.at) },
        { label: "Change", render: (e) => e.kind },
        { label: "From", mono: true, render: (e) => e.fromUserID || "—" },
        { label: "To", mono: true, render: (e) => e.toUserID || "—" },
        { label: "Reason", render: (e) => e.reason || "—" },
      ]}
    />
  );
}
