import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { PageProps } from "../api";
import { Button, ErrorBox, Table, announce } from "../ui";

/** GET /overview's reply (docs/openapi.yaml). */
type OverviewReply = {
  at: string;
  sessions: { users: number; sessions: number; byPlatform: Record<string, number> | null };
  messagesLastMinute: number;
  pushQueue: { vendor: string; status: string; jobs: number }[];
  pushOutcomes: { vendor: string; kind: string; outcome: string; last5m: number; last1h: number }[];
};

/** A poll's figures kept for the sparklines. */
type Sample = { at: number; sessions: number; messages: number; queue: number };

// 2 s: the overview is built to be that cheap (docs/operations.md, "The
// console's overview"); 60 samples are the last two minutes.
const pollEvery = 2000;
const keepSamples = 60;

/** The live overview: sessions, messages, pushes by vendor and outcome and
 * the push queue, polled every 2 s while the tab is visible. */
export function Overview({ api }: PageProps): JSX.Element {
  const [data, setData] = useState<OverviewReply | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [samples, setSamples] = useState<Sample[]>([]);
  const [paused, setPaused] = useState(false);
  const [hidden, setHidden] = useState(document.hidden);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    const on = () => setHidden(document.hidden);
    document.addEventListener("visibilitychange", on);
    return () => document.removeEventListener("visibilitychange", on);
  }, []);

  // One poll at a time: the next is due pollEvery after the last answer,
  // so a slow server is not asked again before it answered.
  useEffect(() => {
    if (paused || hidden) return;
    let stopped = false;
    let timer = 0;
    let failures = 0;
    async function poll() {
      try {
        const r = await api.get<OverviewReply>(api.appPath("/overview"));
        if (stopped) return;
        failures = 0;
        setData(r);
        setError(null);
        const queue = (r.pushQueue ?? []).reduce((n, q) => n + q.jobs, 0);
        setSamples((s) =>
          [...s, { at: Date.parse(r.at) || Date.now(), sessions: r.sessions.sessions, messages: r.messagesLastMinute, queue }].slice(-keepSamples),
        );
      } catch (e) {
        if (stopped) return;
        failures++;
        setError(e);
      }
      if (!stopped) timer = window.setTimeout(poll, failures ? Math.min(30000, pollEvery * 2 ** failures) : pollEvery);
    }
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [paused, hidden]);

  const queueDepth = (data?.pushQueue ?? []).reduce((n, q) => n + q.jobs, 0);
  const attempts5m = (data?.pushOutcomes ?? []).filter((o) => o.kind === "attempt").reduce((n, o) => n + o.last5m, 0);
  const platforms = Object.entries(data?.sessions.byPlatform ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const perSecond = data ? data.messagesLastMinute / 60 : 0;

  return (
    <>
      <div class="row overview-bar">
        <p class="muted" data-testid="ov-updated">
          {paused
            ? "Paused."
            : hidden
              ? "Paused while the tab is hidden."
              : data
                ? `Updated ${new Date(data.at).toLocaleTimeString()}, every 2 s.`
                : "Loading…"}
        </p>
        <Button
          onClick={() => {
            setPaused(!paused);
            announce(paused ? "Overview resumed" : "Overview paused");
          }}
          aria-pressed={paused ? "true" : "false"}
        >
          {paused ? "Resume" : "Pause"}
        </Button>
      </div>
      <ErrorBox error={error} />
      <section aria-labelledby="ov-now">
        <h2 id="ov-now">Now</h2>
        <dl class="stats">
          <Stat label="Users online" value={data?.sessions.users} testid="ov-users" />
          <Stat label="Sessions" value={data?.sessions.sessions} testid="ov-sessions" spark={samples.map((s) => s.sessions)} />
          <Stat label="Messages, last minute" value={data?.messagesLastMinute} testid="ov-messages" spark={samples.map((s) => s.messages)} />
          <Stat label="Messages per second" value={data ? perSecond.toFixed(perSecond < 10 ? 2 : 0) : undefined} testid="ov-rate" hint="average over the last minute" />
          <Stat label="Push queue" value={data ? queueDepth : undefined} testid="ov-queue" spark={samples.map((s) => s.queue)} hint="open jobs" />
          <Stat label="Pushes, last 5 min" value={data ? attempts5m : undefined} testid="ov-pushes" hint="calls to the vendors" />
        </dl>
        <p class="hint">Figures of this node: sessions and messages are counted where they happen.</p>
      </section>
      <section aria-labelledby="ov-sessions-h">
        <h2 id="ov-sessions-h">Sessions</h2>
        <Table
          caption="Live sessions by platform"
          rows={platforms}
          rowKey={([p]) => p}
          empty={data ? "No live session." : "Loading…"}
          columns={[
            { label: "Platform", render: ([p]) => p },
            { label: "Sessions", render: ([, n]) => n },
          ]}
        />
      </section>
      <section aria-labelledby="ov-pushes-h">
        <h2 id="ov-pushes-h">Pushes</h2>
        <Table
          caption="Pushes by vendor and outcome"
          rows={data?.pushOutcomes ?? []}
          rowKey={(o) => `${o.vendor}/${o.kind}/${o.outcome}`}
          empty={data ? "No push in the last hour." : "Loading…"}
          columns={[
            { label: "Vendor", render: (o) => o.vendor },
            { label: "What", render: (o) => (o.kind === "attempt" ? "call to the vendor" : "job ended") },
            { label: "Outcome", render: (o) => <span class={outcomeClass(o.outcome)}>{o.outcome}</span> },
            { label: "Last 5 min", render: (o) => o.last5m },
            { label: "Last hour", render: (o) => o.last1h },
          ]}
        />
        <Table
          caption={`Push queue (${queueDepth} open job${queueDepth === 1 ? "" : "s"})`}
          rows={data?.pushQueue ?? []}
          rowKey={(q) => `${q.vendor}/${q.status}`}
          empty={data ? "The queue is empty." : "Loading…"}
          columns={[
            { label: "Vendor", render: (q) => q.vendor },
            { label: "Status", render: (q) => q.status },
            { label: "Jobs", render: (q) => q.jobs },
          ]}
        />
      </section>
    </>
  );
}

function outcomeClass(o: string): string {
  if (o === "delivered") return "ok";
  if (o === "retry" || o === "deferred" || o === "pending") return "warn";
  return "bad";
}

/** One figure, with a sparkline of its recent values when given. */
function Stat({ label, value, testid, spark, hint }: {
  label: string;
  value: number | string | undefined;
  testid: string;
  spark?: number[];
  hint?: string;
}): JSX.Element {
  return (
    <div class="stat">
      <dt>{label}</dt>
      <dd>
        <span class="stat-value" data-testid={testid}>
          {value ?? "…"}
        </span>
        {hint ? <span class="hint"> {hint}</span> : null}
        {spark && spark.length > 1 ? <Sparkline values={spark} /> : null}
      </dd>
    </div>
  );
}

/** A small line of recent values; decorative (aria-hidden): the figure
 * beside it and the tables carry the numbers. */
function Sparkline({ values }: { values: number[] }): JSX.Element {
  const w = 120;
  const h = 28;
  const max = Math.max(1, ...values);
  const step = w / Math.max(1, keepSamples - 1);
  const x0 = w - step * (values.length - 1);
  const points = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`).join(" ");
  return (
    <svg class="sparkline" width={w} height={h} viewBox={`0 0 ${w} ${h}`} aria-hidden="true" focusable="false">
      <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}
