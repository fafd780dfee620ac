import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { ApiError } from "../api";
import type { ApiClient, PageProps } from "../api";
import { Button, Checkbox, ErrorBox, Field, Select, Table, announce, useFocusWhen, useLoad } from "../ui";
import type { Vendor } from "../vendors";

type APNsOptions = { sound?: string; category?: string; pushType?: string };
type FCMOptions = { channelID?: string; priority?: string; kind?: string };
type AndroidOptions = { channelID?: string; kind?: string };
type AndroidVendor = Extract<Vendor, "huawei" | "xiaomi" | "oppo" | "vivo" | "honor">;

/** push.ResourceSpec: a key per vendor beside the vendor-neutral badge
 * (harmony and webpush have no resource options). */
type ResourceSpec = {
  apns?: APNsOptions;
  fcm?: FCMOptions;
  huawei?: AndroidOptions;
  xiaomi?: AndroidOptions;
  oppo?: AndroidOptions;
  vivo?: AndroidOptions;
  honor?: AndroidOptions;
  badge: boolean;
};

/** A stored resource (resourceView in internal/admin/resources.go). */
type ResourceView = ResourceSpec & { id: string; createdAt: string; updatedAt: string };

// noChannel: why a vendor without notification channels has none.
const androidVendors: { id: AndroidVendor; name: string; channels: boolean; data: boolean; noChannel?: string }[] = [
  { id: "huawei", name: "Huawei", channels: true, data: true },
  { id: "xiaomi", name: "Xiaomi", channels: true, data: false },
  { id: "oppo", name: "OPPO", channels: true, data: false },
  { id: "vivo", name: "vivo", channels: false, data: false, noChannel: "vivo has no notification channels: its classification and category are set on the credential." },
  { id: "honor", name: "Honor", channels: false, data: true, noChannel: "Honor's API takes no notification channel." },
];

// The keys of a resource that hold a vendor's options.
const optionKeys = ["apns", "fcm", ...androidVendors.map((v) => v.id)];

// The server's rules (internal/push/resource.go), repeated as hints only:
// the server decides, and its 40015 is shown when it refuses.
const maxOption = 64;
const idPattern = /^[A-Za-z0-9_\-.@+=]{1,64}$/;
const channelPattern = /^[A-Za-z0-9_\-.]*$/;

function channelHint(v?: string): string | null {
  if (!v) return null;
  if (v.length > maxOption) return `At most ${maxOption} characters.`;
  if (!channelPattern.test(v)) return "Only A-Z a-z 0-9 _ - . are allowed.";
  return null;
}

function printableHint(v?: string): string | null {
  if (!v) return null;
  if (v.length > maxOption) return `At most ${maxOption} characters.`;
  if (/[^\x20-\x7e]|[/\\]/.test(v)) return "Printable ASCII without / or \\.";
  return null;
}

function when(iso?: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A resource's options in one line: "apns: sound call.caf; fcm: ...". */
function summary(r: ResourceSpec): string {
  const parts: string[] = [];
  const opts = (o: Record<string, string | undefined>) =>
    Object.entries(o)
      .filter(([, v]) => v)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "defaults";
  if (r.apns) parts.push(`APNs: ${opts(r.apns)}`);
  if (r.fcm) parts.push(`FCM: ${opts(r.fcm)}`);
  for (const v of androidVendors) {
    const o = r[v.id];
    if (o) parts.push(`${v.name}: ${opts(o)}`);
  }
  if (r.badge) parts.push("badge");
  return parts.join("; ") || "defaults only";
}

function resPath(api: ApiClient, id: string): string {
  return api.appPath(`/push/resources/${encodeURIComponent(id)}`);
}

/** Resources: the per-vendor delivery options a push names by its
 * resourcesID. The list; create, edit and delete one. */
export function Resources({ api }: PageProps): JSX.Element {
  const list = useLoad(() => api.get<{ resources: ResourceView[] }>(api.appPath("/push/resources")), []);
  // null: no editor; "": a new resource; else the ID edited.
  const [editing, setEditing] = useState<ResourceView | "new" | null>(null);
  const [confirm, setConfirm] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const actionErrRef = useFocusWhen(actionError);
  const confirmRef = useFocusWhen(confirm);
  const rows = list.data?.resources ?? [];

  async function remove(id: string) {
    setActionError(null);
    try {
      await api.del(resPath(api, id));
      announce(`Resource ${id} deleted`);
      list.reload();
    } catch (e) {
      setActionError(e);
    } finally {
      setConfirm(null);
    }
  }

  return (
    <>
      {editing ? (
        <ResourceEditor
          key={editing === "new" ? "new" : editing.id}
          api={api}
          current={editing === "new" ? undefined : editing}
          onCancel={() => setEditing(null)}
          onSaved={(r) => {
            setEditing(null);
            announce(`Resource ${r.id} saved`);
            list.reload();
          }}
        />
      ) : (
        <div class="row">
          <Button kind="primary" onClick={() => setEditing("new")} data-action="new-resource">
            New resource
          </Button>
        </div>
      )}
      <section aria-labelledby="res-list">
        <h2 id="res-list">Resources</h2>
        <p class="hint">A push names a resource by its resourcesID (the push config's); a push naming none, or a deleted one, is sent with the defaults.</p>
        <ErrorBox error={list.error} />
        <div ref={actionErrRef as never} tabIndex={-1}>
          <ErrorBox error={actionError} />
        </div>
        {confirm ? (
          <div class="confirm" role="alertdialog" aria-labelledby="confirm-res" ref={confirmRef as never} tabIndex={-1}>
            <p id="confirm-res">Delete resource {confirm}? Pushes naming it are then sent with the defaults.</p>
            <div class="row">
              <Button kind="danger" onClick={() => remove(confirm)} data-testid="confirm-delete">
                Delete resource {confirm}
              </Button>
              <Button onClick={() => setConfirm(null)}>Keep it</Button>
            </div>
          </div>
        ) : null}
        <Table
          caption={list.loading && !list.data ? "Resources (loading…)" : `Resources (${rows.length})`}
          rows={rows}
          rowKey={(r) => r.id}
          empty={list.loading ? "Loading…" : "No resource yet."}
          columns={[
            { label: "ID", mono: true, render: (r) => <span data-resource={r.id}>{r.id}</span> },
            { label: "Options", render: (r) => summary(r) },
            { label: "Updated", render: (r) => when(r.updatedAt) },
            {
              label: "Actions",
              render: (r) => (
                <div class="row">
                  <Button onClick={() => setEditing(r)} aria-label={`Edit resource ${r.id}`} data-action={`edit-${r.id}`}>
                    Edit
                  </Button>
                  <Button kind="danger" onClick={() => setConfirm(r.id)} aria-label={`Delete resource ${r.id}`} data-action={`delete-${r.id}`}>
                    Delete
                  </Button>
                </div>
              ),
            },
          ]}
        />
        <div class="row">
          <Button onClick={list.reload} busy={list.loading}>
            Refresh
          </Button>
        </div>
      </section>
    </>
  );
}

/** A hint under a field that the browser thinks wrong (the server may
 * still be asked: its answer is the one that counts). */
function FieldHint({ text }: { text: string | null }): JSX.Element | null {
  if (!text) return null;
  return (
    <p class="hint field-error" aria-live="polite">
      {text}
    </p>
  );
}

function ResourceEditor({ api, current, onCancel, onSaved }: {
  api: ApiClient;
  current?: ResourceView;
  onCancel: () => void;
  onSaved: (r: ResourceView) => void;
}): JSX.Element {
  const [id, setID] = useState(current?.id ?? "");
  const [badge, setBadge] = useState(!!current?.badge);
  const [apns, setAPNs] = useState<APNsOptions | undefined>(current?.apns);
  const [fcm, setFCM] = useState<FCMOptions | undefined>(current?.fcm);
  const [android, setAndroid] = useState<Partial<Record<AndroidVendor, AndroidOptions>>>({
    huawei: current?.huawei,
    xiaomi: current?.xiaomi,
    oppo: current?.oppo,
    vivo: current?.vivo,
    honor: current?.honor,
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const errRef = useFocusWhen(error);
  const headRef = useFocusWhen(true);

  function clean<T extends Record<string, string | undefined>>(o: T): T {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) if (v && v.trim()) out[k] = v.trim();
    return out as T;
  }

  function spec(): ResourceSpec {
    const s: ResourceSpec = { badge };
    if (apns) s.apns = clean(apns);
    if (fcm) s.fcm = clean(fcm);
    for (const v of androidVendors) {
      const o = android[v.id];
      if (o) s[v.id] = clean(o);
    }
    return s;
  }

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    const rid = id.trim();
    if (!rid) {
      setError(new Error("The resource ID is required."));
      return;
    }
    setBusy(true);
    try {
      const r = await api.put<ResourceView>(resPath(api, rid), spec());
      onSaved(r);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  // The vendor a refusal names ("fcm.channelID must be ..."): its
  // fieldset repeats the server's message.
  const refused = error instanceof ApiError ? new RegExp(`\\b(${optionKeys.join("|")})\\.[A-Za-z]+`).exec(error.message)?.[1] ?? "" : "";
  const serverSays = (vendor: string) =>
    refused === vendor && error instanceof ApiError ? (
      <p class="hint field-error" data-testid="server-error">
        Refused ({error.code}): {error.message}
      </p>
    ) : null;

  const setA = (k: keyof APNsOptions) => (v: string) => setAPNs((o) => ({ ...o, [k]: v }));
  const setF = (k: keyof FCMOptions) => (v: string) => setFCM((o) => ({ ...o, [k]: v }));
  const setAnd = (vendor: AndroidVendor, k: keyof AndroidOptions) => (v: string) =>
    setAndroid((m) => ({ ...m, [vendor]: { ...m[vendor], [k]: v } }));
  const kinds = [
    { value: "", label: "default (notification)" },
    { value: "notification", label: "notification" },
    { value: "data", label: "data (handed to the app)" },
  ];

  return (
    <section aria-labelledby="res-editor" class="card">
      <h2 id="res-editor" ref={headRef as never} tabIndex={-1}>
        {current ? `Edit resource ${current.id}` : "New resource"}
      </h2>
      <form onSubmit={submit} aria-label={current ? `Resource ${current.id}` : "New resource"}>
        <Field
          label="Resource ID"
          name="id"
          value={id}
          onInput={setID}
          mono
          required
          disabled={!!current}
          hint="What a push names as its resourcesID: 1 to 64 of A-Z a-z 0-9 _ - . @ + =."
        />
        <FieldHint text={id && !idPattern.test(id) ? "Only A-Z a-z 0-9 _ - . @ + = are allowed (up to 64)." : null} />
        <Checkbox
          label="Badge: the unread count on the app icon"
          name="badge"
          checked={badge}
          onChange={setBadge}
          hint="Huawei badges only with the launcher Activity set on its credential (badge class)."
        />
        <fieldset data-vendor="apns">
          <legend>APNs</legend>
          {serverSays("apns")}
          <Checkbox label="Set APNs options" name="use-apns" checked={!!apns} onChange={(on) => setAPNs(on ? apns ?? {} : undefined)} />
          {apns ? (
            <>
              <div class="row">
                <Field label="Sound" name="apns.sound" value={apns.sound ?? ""} onInput={setA("sound")} mono hint='A sound of the app bundle ("call.caf") or "default".' />
                <Field label="Category" name="apns.category" value={apns.category ?? ""} onInput={setA("category")} mono hint="A notification category the app registered." />
              </div>
              <FieldHint text={printableHint(apns.sound) ?? printableHint(apns.category)} />
              <Select
                label="Push type"
                name="apns.pushType"
                value={apns.pushType ?? ""}
                onChange={setA("pushType")}
                options={[
                  { value: "", label: "default (alert)" },
                  { value: "alert", label: "alert" },
                  { value: "background", label: "background (never shown)" },
                  { value: "voip", label: "voip (PushKit)" },
                ]}
              />
            </>
          ) : null}
        </fieldset>
        <fieldset data-vendor="fcm">
          <legend>FCM</legend>
          {serverSays("fcm")}
          <Checkbox label="Set FCM options" name="use-fcm" checked={!!fcm} onChange={(on) => setFCM(on ? fcm ?? {} : undefined)} />
          {fcm ? (
            <>
              <Field label="Channel ID" name="fcm.channelID" value={fcm.channelID ?? ""} onInput={setF("channelID")} mono hint="The Android notification channel the app created." />
              <FieldHint text={channelHint(fcm.channelID)} />
              <div class="row">
                <Select
                  label="Priority"
                  name="fcm.priority"
                  value={fcm.priority ?? ""}
                  onChange={setF("priority")}
                  options={[
                    { value: "", label: "default (high)" },
                    { value: "high", label: "high" },
                    { value: "normal", label: "normal" },
                  ]}
                />
                <Select label="Kind" name="fcm.kind" value={fcm.kind ?? ""} onChange={setF("kind")} options={kinds} />
              </div>
            </>
          ) : null}
        </fieldset>
        {androidVendors.map((v) => {
          const o = android[v.id];
          return (
            <fieldset key={v.id} data-vendor={v.id}>
              <legend>{v.name}</legend>
              {serverSays(v.id)}
              <Checkbox
                label={`Set ${v.name} options`}
                name={`use-${v.id}`}
                checked={!!o}
                onChange={(on) => setAndroid((m) => ({ ...m, [v.id]: on ? m[v.id] ?? {} : undefined }))}
              />
              {o ? (
                <>
                  {v.channels ? (
                    <>
                      <Field label="Channel ID" name={`${v.id}.channelID`} value={o.channelID ?? ""} onInput={setAnd(v.id, "channelID")} mono />
                      <FieldHint text={channelHint(o.channelID)} />
                    </>
                  ) : (
                    <p class="hint">{v.noChannel}</p>
                  )}
                  <Select label="Kind" name={`${v.id}.kind`} value={o.kind ?? ""} onChange={setAnd(v.id, "kind")} options={kinds} />
                  <FieldHint text={o.kind === "data" && !v.data ? `${v.name} has no pass-through messages the app receives: the server refuses data.` : null} />
                </>
              ) : null}
            </fieldset>
          );
        })}
        <div ref={errRef as never} tabIndex={-1} data-testid="resource-error">
          <ErrorBox error={error} />
        </div>
        <div class="row">
          <Button kind="primary" type="submit" busy={busy}>
            Save resource
          </Button>
          <Button onClick={onCancel}>Cancel</Button>
        </div>
      </form>
    </section>
  );
}
