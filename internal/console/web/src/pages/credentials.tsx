import type { JSX } from "preact";
import { Fragment } from "preact";
import { useState } from "preact/hooks";
import type { ApiClient, PageProps } from "../api";
import { Button, Checkbox, ErrorBox, Field, FileField, Table, announce, useFocusWhen, useLoad } from "../ui";
import { type Vendor, vendorName, vendors } from "../vendors";

type Env = "development" | "production";

/** A credential as GET /push/credentials shows it: identifiers, never key
 * material (credentialView in internal/admin/credentials.go). */
type CredentialView = {
  vendor: Vendor;
  environments: Env[];
  auth: string;
  keyID?: string;
  teamID?: string;
  certSubject?: string;
  certExpiresAt?: string;
  projectID?: string;
  clientEmail?: string;
  privateKeyID?: string;
  appID?: string;
  appKey?: string;
  clientID?: string;
  packageName?: string;
  channelID?: string;
  category?: string;
  notifyLevel?: number;
  selfClassified?: boolean;
  badgeClass?: string;
  defaultChannelID?: string;
  productionURL?: string;
  developmentURL?: string;
  baseURL?: string;
  tokenURL?: string;
  customCA?: boolean;
  checkTopic?: string;
  publicKey?: string;
  subject?: string;
  createdAt: string;
  updatedAt: string;
  active: boolean;
  loadError?: string;
  failing?: Partial<Record<Env, string>>;
};

/** POST /push/credentials/{vendor}/check's answer. */
type CheckReply = { ok: boolean; refused?: boolean; error?: string; latencyMs: number };

type CheckResult = { vendor: Vendor; reply: CheckReply; at: Date };

function when(iso?: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function credPath(api: ApiClient, v: Vendor, suffix = ""): string {
  return api.appPath(`/push/credentials/${v}${suffix}`);
}

/** Push credentials: each vendor with its environments and state; add or
 * replace one with the vendor's form, check it with the vendor, delete it. */
export function Credentials({ api }: PageProps): JSX.Element {
  const list = useLoad(() => api.get<{ credentials: CredentialView[] }>(api.appPath("/push/credentials")), []);
  const [editing, setEditing] = useState<Vendor | null>(null);
  const [check, setCheck] = useState<CheckResult | null>(null);
  const [checkError, setCheckError] = useState<unknown>(null);
  const [checking, setChecking] = useState<Vendor | null>(null);
  const [confirm, setConfirm] = useState<Vendor | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [lastCheck, setLastCheck] = useState<Partial<Record<Vendor, CheckResult>>>({});
  const checkRef = useFocusWhen(check || checkError);
  const actionErrRef = useFocusWhen(actionError);
  const confirmRef = useFocusWhen(confirm);

  const creds = list.data?.credentials ?? [];
  const byVendor = new Map(creds.map((c) => [c.vendor, c]));

  async function runCheck(v: Vendor) {
    setCheck(null);
    setCheckError(null);
    setChecking(v);
    try {
      const reply = await api.post<CheckReply>(credPath(api, v, "/check"));
      const r = { vendor: v, reply, at: new Date() };
      setCheck(r);
      setLastCheck((m) => ({ ...m, [v]: r }));
      announce(reply.ok ? `${vendorName(v)} accepted the credential` : `${vendorName(v)} check failed: ${reply.error ?? ""}`);
    } catch (e) {
      setCheckError(e);
    } finally {
      setChecking(null);
    }
  }

  async function remove(v: Vendor) {
    setActionError(null);
    try {
      await api.del(credPath(api, v));
      setConfirm(null);
      setLastCheck((m) => ({ ...m, [v]: undefined }));
      if (check?.vendor === v) setCheck(null);
      announce(`${vendorName(v)} credential deleted`);
      list.reload();
    } catch (e) {
      setConfirm(null);
      setActionError(e);
    }
  }

  return (
    <>
      {editing ? (
        <CredentialEditor
          api={api}
          vendor={editing}
          current={byVendor.get(editing)}
          onCancel={() => setEditing(null)}
          onSaved={(c) => {
            setEditing(null);
            setLastCheck((m) => ({ ...m, [c.vendor]: undefined }));
            if (check?.vendor === c.vendor) setCheck(null);
            announce(`${vendorName(c.vendor)} credential saved`);
            list.reload();
          }}
        />
      ) : null}
      <section aria-labelledby="creds-list">
        <h2 id="creds-list">Vendors</h2>
        <p class="hint">
          Secrets are never shown back: a credential is replaced as a whole. "Check" asks the vendor whether it accepts the credential.
        </p>
        <ErrorBox error={list.error} />
        <div ref={actionErrRef as never} tabIndex={-1}>
          <ErrorBox error={actionError} />
        </div>
        {confirm ? (
          <div class="confirm" role="alertdialog" aria-labelledby="confirm-delete" ref={confirmRef as never} tabIndex={-1}>
            <p id="confirm-delete">
              Delete the {vendorName(confirm)} credential? Pushes to {vendorName(confirm)} stop until a new one is added.
            </p>
            <div class="row">
              <Button kind="danger" onClick={() => remove(confirm)} data-testid="confirm-delete">
                Delete {vendorName(confirm)} credential
              </Button>
              <Button onClick={() => setConfirm(null)}>Keep it</Button>
            </div>
          </div>
        ) : null}
        <Table
          caption={list.loading && !list.data ? "Push credentials (loading…)" : `Push credentials (${creds.length} of ${vendors.length} vendors set)`}
          rows={vendors}
          rowKey={(v) => v.id}
          columns={[
            { label: "Vendor", render: (v) => <span data-vendor={v.id}>{v.name}</span> },
            {
              label: "Environments",
              render: (v) => {
                const c = byVendor.get(v.id);
                return c ? c.environments.join(", ") : <span class="muted">—</span>;
              },
            },
            { label: "Credential", render: (v) => <Details c={byVendor.get(v.id)} /> },
            { label: "State", render: (v) => <State c={byVendor.get(v.id)} check={lastCheck[v.id]} /> },
            {
              label: "Actions",
              render: (v) => {
                const c = byVendor.get(v.id);
                return (
                  <div class="row">
                    <Button
                      kind={c ? "secondary" : "primary"}
                      onClick={() => setEditing(v.id)}
                      aria-label={`${c ? "Replace" : "Add"} the ${v.name} credential`}
                      data-action={`edit-${v.id}`}
                    >
                      {c ? "Replace" : "Add"}
                    </Button>
                    {c ? (
                      <>
                        <Button busy={checking === v.id} onClick={() => runCheck(v.id)} aria-label={`Check the ${v.name} credential`} data-action={`check-${v.id}`}>
                          Check
                        </Button>
                        <Button kind="danger" onClick={() => setConfirm(v.id)} aria-label={`Delete the ${v.name} credential`} data-action={`delete-${v.id}`}>
                          Delete
                        </Button>
                      </>
                    ) : null}
                  </div>
                );
              },
            },
          ]}
        />
        <div class="row">
          <Button onClick={list.reload} busy={list.loading}>
            Refresh
          </Button>
        </div>
      </section>
      {check || checkError ? (
        <section aria-labelledby="check-result" class="card result" ref={checkRef as never} tabIndex={-1} data-testid="check-result">
          <h2 id="check-result">Check{check ? `: ${vendorName(check.vendor)}` : ""}</h2>
          <ErrorBox error={checkError} />
          {check ? <CheckAnswer r={check} /> : null}
        </section>
      ) : null}
    </>
  );
}

function CheckAnswer({ r }: { r: CheckResult }): JSX.Element {
  const name = vendorName(r.vendor);
  if (r.reply.ok) {
    return (
      <p>
        <strong class="ok">ok</strong>: {name} accepted the credential ({r.reply.latencyMs} ms, {r.at.toLocaleTimeString()}).
      </p>
    );
  }
  return (
    <p>
      <strong class="bad">{r.reply.refused ? "refused" : "no answer"}</strong>:{" "}
      {r.reply.refused ? `${name} refused the credential` : `${name} could not say (network, throttling or a vendor error)`}:{" "}
      <span class="mono check-error">{r.reply.error}</span> ({r.reply.latencyMs} ms)
    </p>
  );
}

/** What identifies a credential (never its secrets). */
function Details({ c }: { c?: CredentialView }): JSX.Element {
  if (!c) return <span class="muted">not set</span>;
  // [label, value, a long key shown in mono]
  const items: [string, string, boolean?][] = [];
  const add = (k: string, v?: string | number | boolean, mono?: boolean) => {
    if (v !== undefined && v !== "" && v !== false) items.push([k, String(v), mono]);
  };
  add("auth", c.auth);
  add("key ID", c.keyID);
  add("team ID", c.teamID);
  add("certificate", c.certSubject);
  add("expires", c.certExpiresAt ? when(c.certExpiresAt) : undefined);
  add("project", c.projectID);
  add("client email", c.clientEmail);
  add("private key ID", c.privateKeyID);
  add("app ID", c.appID);
  add("app key", c.appKey);
  add("client ID", c.clientID);
  add("package", c.packageName);
  add("channel", c.channelID);
  add("default channel", c.defaultChannelID);
  add("category", c.category);
  add("notify level", c.notifyLevel);
  add("self-classified", c.selfClassified ? "yes" : undefined);
  add("badge class", c.badgeClass);
  add("check topic", c.checkTopic);
  add("subject", c.subject);
  add("public key", c.publicKey, true);
  add("endpoint", c.baseURL || c.productionURL);
  add("custom CA", c.customCA ? "yes" : undefined);
  add("updated", when(c.updatedAt));
  return (
    <dl class="kv compact">
      {items.map(([k, v, mono]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd class={mono ? "mono" : undefined} data-testid={mono ? `${c.vendor}-${k.replace(/ /g, "-")}` : undefined}>
            {v}
          </dd>
        </Fragment>
      ))}
    </dl>
  );
}

/** ok, or why not: the credential does not load, a vendor refused it
 * while delivering (per environment), the last check failed; and the
 * certificate's expiry when it is near. */
function State({ c, check }: { c?: CredentialView; check?: CheckResult }): JSX.Element {
  if (!c) return <span class="muted">—</span>;
  const lines: JSX.Element[] = [];
  if (!c.active) {
    lines.push(
      <li key="load" class="bad">
        failing: not loaded{c.loadError ? `: ${c.loadError}` : ""}
      </li>,
    );
  }
  for (const [env, why] of Object.entries(c.failing ?? {})) {
    lines.push(
      <li key={`f-${env}`} class="bad">
        failing ({env}): {why}
      </li>,
    );
  }
  if (check && !check.reply.ok) {
    lines.push(
      <li key="check" class="bad">
        failing check: {check.reply.error}
      </li>,
    );
  }
  if (c.certExpiresAt) {
    const left = new Date(c.certExpiresAt).getTime() - Date.now();
    if (left < 30 * 24 * 3600 * 1000) {
      lines.push(
        <li key="exp" class="warn">
          certificate {left < 0 ? "expired" : "expires"} {when(c.certExpiresAt)}
        </li>,
      );
    }
  }
  if (lines.length === 0) {
    return (
      <span class="ok" data-state="ok">
        ok{check?.reply.ok ? " (checked)" : ""}
      </span>
    );
  }
  return (
    <ul class="states" data-state="failing">
      {lines}
    </ul>
  );
}

/** The form of one vendor's credential, sent whole with PUT. */
function CredentialEditor({ api, vendor, current, onCancel, onSaved }: {
  api: ApiClient;
  vendor: Vendor;
  current?: CredentialView;
  onCancel: () => void;
  onSaved: (c: CredentialView) => void;
}): JSX.Element {
  const name = vendorName(vendor);
  const [envs, setEnvs] = useState<Record<Env, boolean>>({
    development: current ? current.environments.includes("development") : true,
    production: current ? current.environments.includes("production") : true,
  });
  // Every field of every vendor's config; only the vendor's are sent.
  const [f, setF] = useState<Record<string, string>>({
    apnsAuth: current?.auth === "certificate" ? "certificate" : "token",
    keyID: current?.keyID ?? "",
    teamID: current?.teamID ?? "",
    checkTopic: current?.checkTopic ?? "",
    appID: current?.appID ?? "",
    appKey: current?.appKey ?? "",
    clientID: current?.clientID ?? "",
    packageName: current?.packageName ?? "",
    channelID: current?.channelID ?? "",
    defaultChannelID: current?.defaultChannelID ?? "",
    // OPPO's view shows its default category; harmony's too, which sent
    // again is the same.
    category: vendor === "oppo" ? "" : current?.category ?? "",
    notifyLevel: "",
    badgeClass: current?.badgeClass ?? "",
    productionURL: current?.productionURL ?? "",
    developmentURL: current?.developmentURL ?? "",
    baseURL: current?.baseURL ?? "",
    tokenURL: current?.tokenURL ?? "",
    subject: current?.subject ?? "",
    privateKey: "",
    publicKey: "",
    clientSecret: "",
    appSecret: "",
    masterSecret: "",
  });
  const [selfClassified, setSelfClassified] = useState(!!current?.selfClassified);
  // Not in the view: ticked again when a harmony credential is replaced.
  const [callRight, setCallRight] = useState(false);
  // Files read in the browser: {name, text}.
  const [files, setFiles] = useState<Record<string, { name: string; text: string }>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const errRef = useFocusWhen(error);
  const headRef = useFocusWhen(true);

  const set = (k: string) => (v: string) => setF((x) => ({ ...x, [k]: v }));
  const file = (k: string) => ({
    loaded: files[k]?.name ?? "",
    onLoad: (text: string, fileName: string) => {
      setFiles((x) => ({ ...x, [k]: { name: fileName, text } }));
      // Apple names a downloaded key AuthKey_<keyID>.p8.
      const m = k === "keyPEM" ? /^AuthKey_([A-Z0-9]{10})\.p8$/.exec(fileName) : null;
      if (m) setF((x) => (x.keyID ? x : { ...x, keyID: m[1] }));
    },
    onError: setError,
  });
  const text = (k: string) => files[k]?.text ?? "";

  /** A credential file (the admin API's JSON, as `herald serve --emulate`
   * writes them) fills the form; its fields are the API's names. */
  function importJSON(t: string, fileName: string) {
    setError(null);
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(t) as Record<string, unknown>;
      if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Error("not an object");
    } catch {
      setError(new Error(`${fileName} is not a JSON object with the credential's fields`));
      return;
    }
    setF((x) => {
      const y = { ...x };
      for (const k of Object.keys(x)) if (typeof doc[k] === "string") y[k] = doc[k] as string;
      if (typeof doc.notifyLevel === "number") y.notifyLevel = String(doc.notifyLevel);
      return y;
    });
    if (typeof doc.selfClassified === "boolean") setSelfClassified(doc.selfClassified);
    if (typeof doc.callRight === "boolean") setCallRight(doc.callRight);
    // harmony's key file, as a string or the object itself.
    const sa = doc.serviceAccountJSON;
    if (typeof sa === "string" || (sa && typeof sa === "object")) {
      const t = typeof sa === "string" ? sa : JSON.stringify(sa);
      setFiles((x) => ({ ...x, serviceAccountJSON: { name: `${fileName} (service account)`, text: t } }));
    }
    if (typeof doc.caPEM === "string") setFiles((x) => ({ ...x, caPEM: { name: `${fileName} (CA)`, text: doc.caPEM as string } }));
    announce(`${fileName} loaded into the form`);
  }

  function body(): Record<string, unknown> {
    const b: Record<string, unknown> = {};
    const environments = (Object.keys(envs) as Env[]).filter((e) => envs[e]);
    b.environments = environments;
    const put = (k: string, v: string) => {
      if (v.trim() !== "") b[k] = v.trim();
    };
    switch (vendor) {
      case "apns":
        if (f.apnsAuth === "token") {
          b.keyPEM = text("keyPEM");
          put("keyID", f.keyID);
          put("teamID", f.teamID);
        } else {
          const cert = text("certPEM");
          let key = text("certKeyPEM");
          // One PEM file may hold the certificate and its key.
          if (!key && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(cert)) key = cert;
          b.certPEM = cert;
          b.certKeyPEM = key;
        }
        put("checkTopic", f.checkTopic);
        put("productionURL", f.productionURL);
        put("developmentURL", f.developmentURL);
        break;
      case "fcm":
        b.serviceAccountJSON = text("serviceAccountJSON");
        put("defaultChannelID", f.defaultChannelID);
        put("baseURL", f.baseURL);
        put("tokenURL", f.tokenURL);
        break;
      case "huawei":
        b.appID = f.appID.trim();
        b.clientSecret = f.clientSecret;
        if (selfClassified) b.selfClassified = true;
        put("badgeClass", f.badgeClass);
        put("baseURL", f.baseURL);
        put("tokenURL", f.tokenURL);
        break;
      case "xiaomi":
        b.appSecret = f.appSecret;
        b.packageName = f.packageName.trim();
        put("channelID", f.channelID);
        put("baseURL", f.baseURL);
        break;
      case "oppo":
        b.appKey = f.appKey.trim();
        b.masterSecret = f.masterSecret;
        put("channelID", f.channelID);
        put("category", f.category);
        if (f.notifyLevel.trim()) b.notifyLevel = Number(f.notifyLevel);
        put("baseURL", f.baseURL);
        break;
      case "vivo":
        b.appID = f.appID.trim();
        b.appKey = f.appKey.trim();
        b.appSecret = f.appSecret;
        put("category", f.category);
        put("baseURL", f.baseURL);
        break;
      case "harmony":
        b.serviceAccountJSON = text("serviceAccountJSON");
        put("category", f.category);
        put("clientID", f.clientID);
        if (callRight) b.callRight = true;
        put("baseURL", f.baseURL);
        break;
      case "webpush":
        b.subject = f.subject.trim();
        put("privateKey", f.privateKey);
        put("publicKey", f.publicKey);
        break;
      case "honor":
        b.appID = f.appID.trim();
        b.clientID = f.clientID.trim();
        b.clientSecret = f.clientSecret;
        put("badgeClass", f.badgeClass);
        put("baseURL", f.baseURL);
        put("tokenURL", f.tokenURL);
        break;
    }
    if (text("caPEM")) b.caPEM = text("caPEM");
    return b;
  }

  /** What the browser can tell before sending; the server decides. */
  function hint(): string | null {
    if (!envs.development && !envs.production) return "Pick at least one environment.";
    if (vendor === "apns" && f.apnsAuth === "token" && !text("keyPEM")) return "Choose the .p8 signing key file.";
    if (vendor === "apns" && f.apnsAuth === "certificate" && !text("certPEM")) return "Choose the certificate (PEM) file.";
    if ((vendor === "fcm" || vendor === "harmony") && !text("serviceAccountJSON")) return "Choose the service account key file (JSON).";
    if (vendor === "oppo" && f.notifyLevel.trim() && !/^[0-9]+$/.test(f.notifyLevel.trim())) return "The notify level is a number (1, 2 or 16).";
    return null;
  }

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    const h = hint();
    if (h) {
      setError(new Error(h));
      return;
    }
    setBusy(true);
    try {
      const c = await api.put<CredentialView>(credPath(api, vendor), body());
      onSaved(c);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const secretHint = current ? "The stored secret is never shown: type it again to replace the credential." : undefined;

  return (
    <section aria-labelledby="cred-editor" class="card">
      <h2 id="cred-editor" ref={headRef as never} tabIndex={-1}>
        {current ? "Replace" : "Add"} the {name} credential
      </h2>
      <form onSubmit={submit} aria-label={`${name} credential`} data-vendor={vendor}>
        <fieldset>
          <legend>Environments</legend>
          <Checkbox label="development" name="env-development" checked={envs.development} onChange={(v) => setEnvs((x) => ({ ...x, development: v }))} />
          <Checkbox label="production" name="env-production" checked={envs.production} onChange={(v) => setEnvs((x) => ({ ...x, production: v }))} />
        </fieldset>
        {vendor === "apns" ? (
          <>
            <fieldset class="mode">
              <legend>Authentication</legend>
              <label>
                <input type="radio" name="apnsAuth" value="token" checked={f.apnsAuth === "token"} onChange={() => set("apnsAuth")("token")} /> Token (a .p8 signing key)
              </label>
              <label>
                <input type="radio" name="apnsAuth" value="certificate" checked={f.apnsAuth === "certificate"} onChange={() => set("apnsAuth")("certificate")} /> Certificate (PEM)
              </label>
            </fieldset>
            {f.apnsAuth === "token" ? (
              <fieldset>
                <legend>Signing key</legend>
                <FileField label="Signing key (.p8)" name="keyPEM" accept=".p8,.pem" required hint="From Apple's developer site (Keys); AuthKey_<keyID>.p8." {...file("keyPEM")} />
                <div class="row">
                  <Field label="Key ID" name="keyID" value={f.keyID} onInput={set("keyID")} mono required hint="10 characters." />
                  <Field label="Team ID" name="teamID" value={f.teamID} onInput={set("teamID")} mono required hint="10 characters." />
                </div>
              </fieldset>
            ) : (
              <fieldset>
                <legend>Client certificate</legend>
                <FileField label="Certificate (PEM)" name="certPEM" accept=".pem,.crt,.cer" required hint="Convert a .p12 first: openssl pkcs12 -in cert.p12 -out cert.pem -nodes." {...file("certPEM")} />
                <FileField label="Private key (PEM)" name="certKeyPEM" accept=".pem,.key" hint="Not needed when the certificate file holds the key too." {...file("certKeyPEM")} />
              </fieldset>
            )}
            <Field label="Check topic" name="checkTopic" value={f.checkTopic} onInput={set("checkTopic")} mono hint="Optional: the app's bundle ID, so that Check also proves the topic." />
          </>
        ) : null}
        {vendor === "fcm" ? (
          <>
            <FileField label="Service account key (JSON)" name="serviceAccountJSON" accept=".json,application/json" required hint="Firebase console: Project settings → Service accounts → Generate new private key." {...file("serviceAccountJSON")} />
            <Field label="Default channel ID" name="defaultChannelID" value={f.defaultChannelID} onInput={set("defaultChannelID")} mono hint="Optional: the Android channel of pushes whose resource names none." />
          </>
        ) : null}
        {vendor !== "apns" && vendor !== "fcm" ? (
          <FileField label="Fill from a credential file (JSON)" name="credentialFile" accept=".json,application/json" hint="Optional: a JSON document with the API's field names, such as herald-data/*-credential.json of --emulate." loaded="" onLoad={importJSON} onError={setError} />
        ) : null}
        {vendor === "huawei" ? (
          <fieldset>
            <legend>Push Kit app</legend>
            <div class="row">
              <Field label="App ID" name="appID" value={f.appID} onInput={set("appID")} mono required />
              <Field label="Client secret" name="clientSecret" type="password" value={f.clientSecret} onInput={set("clientSecret")} mono required hint={secretHint} autoComplete="new-password" />
            </div>
            <Checkbox label="Self-classified (IM category)" name="selfClassified" checked={selfClassified} onChange={setSelfClassified} hint="Only when Huawei granted the app self-classification." />
            <Field label="Badge class" name="badgeClass" value={f.badgeClass} onInput={set("badgeClass")} mono hint="The launcher Activity, full class name (com.example.chat.MainActivity); needed by badge resources." />
          </fieldset>
        ) : null}
        {vendor === "xiaomi" ? (
          <fieldset>
            <legend>MiPush app</legend>
            <div class="row">
              <Field label="Package name" name="packageName" value={f.packageName} onInput={set("packageName")} mono required />
              <Field label="App secret" name="appSecret" type="password" value={f.appSecret} onInput={set("appSecret")} mono required hint={secretHint} autoComplete="new-password" />
            </div>
            <Field label="Channel ID" name="channelID" value={f.channelID} onInput={set("channelID")} mono hint="Optional: the private-message channel registered with Xiaomi." />
          </fieldset>
        ) : null}
        {vendor === "oppo" ? (
          <fieldset>
            <legend>OPPO app</legend>
            <div class="row">
              <Field label="App key" name="appKey" value={f.appKey} onInput={set("appKey")} mono required />
              <Field label="Master secret" name="masterSecret" type="password" value={f.masterSecret} onInput={set("masterSecret")} mono required hint={secretHint} autoComplete="new-password" />
            </div>
            <div class="row">
              <Field label="Channel ID" name="channelID" value={f.channelID} onInput={set("channelID")} mono hint="Optional: the private-message channel." />
              <Field label="Category" name="category" value={f.category} onInput={set("category")} mono hint={`Optional${current?.category ? ` (now ${current.category})` : ""}: IM by default.`} />
              <Field label="Notify level" name="notifyLevel" value={f.notifyLevel} onInput={set("notifyLevel")} mono hint={`Optional${current?.notifyLevel ? ` (now ${current.notifyLevel})` : ""}.`} />
            </div>
          </fieldset>
        ) : null}
        {vendor === "vivo" ? (
          <fieldset>
            <legend>vivo app</legend>
            <div class="row">
              <Field label="App ID" name="appID" value={f.appID} onInput={set("appID")} mono required />
              <Field label="App key" name="appKey" value={f.appKey} onInput={set("appKey")} mono required />
              <Field label="App secret" name="appSecret" type="password" value={f.appSecret} onInput={set("appSecret")} mono required hint={secretHint} autoComplete="new-password" />
            </div>
            <Field label="Category" name="category" value={f.category} onInput={set("category")} mono hint="Optional: IM, the category vivo's classification expects." />
          </fieldset>
        ) : null}
        {vendor === "harmony" ? (
          <fieldset>
            <legend>Push Kit project (REST v3)</legend>
            <FileField label="Service account key (JSON)" name="serviceAccountJSON" accept=".json,application/json" required hint="Huawei's API Console: the project's service account key (Herald signs its JWTs with it)." {...file("serviceAccountJSON")} />
            <Field
              label="Category"
              name="category"
              value={f.category}
              onInput={set("category")}
              mono
              hint="Optional: the notification category of alerts, IM by default (it needs Huawei's self-classification; without it Push Kit treats every notification as MARKETING). One of docs/openapi.yaml's HarmonyCredentialInput."
            />
            <Field
              label="Client ID"
              name="clientID"
              value={f.clientID}
              onInput={set("clientID")}
              mono
              hint="Optional: the app's Client ID (AppGallery Connect). With it a revoked message's notification is removed with Push Kit's revoke API instead of replaced."
            />
            <Checkbox
              label="In-app call message entitlement (call right)"
              name="callRight"
              checked={callRight}
              onChange={setCallRight}
              hint={`VoIP pushes go as in-app call messages; without it as VOIP notifications.${current ? " Not shown back: tick it again when replacing." : ""}`}
            />
          </fieldset>
        ) : null}
        {vendor === "webpush" ? (
          <fieldset>
            <legend>VAPID</legend>
            <Field label="Subject" name="subject" value={f.subject} onInput={set("subject")} mono required hint="A mailto: address or https: URL where push services reach the operator (mailto:ops@example.com)." />
            <div class="row">
              <Field label="Private key" name="privateKey" type="password" value={f.privateKey} onInput={set("privateKey")} mono autoComplete="new-password" hint="Optional: the 32-byte P-256 key in base64url, as the web-push libraries print it." />
              <Field label="Public key" name="publicKey" value={f.publicKey} onInput={set("publicKey")} mono hint="Optional: checked against the private key." />
            </div>
            <p class="hint">
              {current
                ? "Without a private key the stored key pair is kept: a new one would orphan every browser subscription made with the old one."
                : "Without a private key the server generates the key pair; its public key is shown here once saved (the pages' applicationServerKey)."}
            </p>
          </fieldset>
        ) : null}
        {vendor === "honor" ? (
          <fieldset>
            <legend>Honor Push app</legend>
            <div class="row">
              <Field label="App ID" name="appID" value={f.appID} onInput={set("appID")} mono required />
              <Field label="Client ID" name="clientID" value={f.clientID} onInput={set("clientID")} mono required />
              <Field label="Client secret" name="clientSecret" type="password" value={f.clientSecret} onInput={set("clientSecret")} mono required hint={secretHint} autoComplete="new-password" />
            </div>
            <Field label="Badge class" name="badgeClass" value={f.badgeClass} onInput={set("badgeClass")} mono hint="Optional: the launcher Activity, full class name; without it no badge is sent." />
          </fieldset>
        ) : null}
        <details class="advanced" open={!!(f.baseURL || f.productionURL || f.developmentURL || f.tokenURL || files.caPEM)}>
          <summary>Endpoints (emulators, proxies)</summary>
          <fieldset>
            <legend>Endpoints</legend>
            {vendor === "apns" ? (
              <>
                <Field label="Production URL" name="productionURL" type="url" value={f.productionURL} onInput={set("productionURL")} mono />
                <Field label="Development URL" name="developmentURL" type="url" value={f.developmentURL} onInput={set("developmentURL")} mono />
              </>
            ) : vendor !== "webpush" ? (
              <Field label="Base URL" name="baseURL" type="url" value={f.baseURL} onInput={set("baseURL")} mono hint="Empty: the vendor's own." />
            ) : (
              <p class="hint">A browser's subscription names its push service: there is no endpoint to set.</p>
            )}
            {vendor === "fcm" || vendor === "huawei" || vendor === "honor" ? (
              <Field label="Token URL" name="tokenURL" type="url" value={f.tokenURL} onInput={set("tokenURL")} mono />
            ) : null}
            <FileField label="CA certificate (PEM)" name="caPEM" accept=".pem,.crt" hint={
                current?.customCA
                  ? "The stored credential has one, never shown back: choose it again, or the system roots are used."
                  : "Only for an endpoint signed by a private CA (an emulator's)."
              }
              {...file("caPEM")}
            />
          </fieldset>
        </details>
        <div ref={errRef as never} tabIndex={-1}>
          <ErrorBox error={error} />
        </div>
        <div class="row">
          <Button kind="primary" type="submit" busy={busy}>
            Save {name} credential
          </Button>
          <Button onClick={onCancel}>Cancel</Button>
        </div>
      </form>
    </section>
  );
}
