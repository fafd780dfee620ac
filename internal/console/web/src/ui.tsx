// Small shared components. Pages use these rather than their own, so that
// labels, errors and announcements look and behave the same everywhere.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState, useCallback, useRef } from "preact/hooks";
import { ApiError } from "./api";

/** The href of a console route: routeHref("trace", {message: "m1"}) is
 * "#/trace?message=m1". */
export function routeHref(path: string, query?: Record<string, string>): string {
  const q = query ? new URLSearchParams(query).toString() : "";
  return `#/${path}${q ? `?${q}` : ""}`;
}

/** Goes to a console route (the router moves the focus to its heading). */
export function navigate(path: string, query?: Record<string, string>): void {
  location.hash = routeHref(path, query);
}

// The live region: one per page, in the layout; announce() sets its text.
type Listener = (text: string) => void;
const listeners = new Set<Listener>();

/** Tells screen readers (politely) what just happened: "Saved", "3 users
 * found". Shown on screen too, in the status line. */
export function announce(text: string): void {
  for (const l of listeners) l(text);
}

/** The polite aria-live status region; the layout renders it once. */
export function LiveRegion(): JSX.Element {
  const [text, setText] = useState("");
  useEffect(() => {
    const l: Listener = (t) => {
      // Clearing first makes a repeated message be read again.
      setText("");
      setTimeout(() => setText(t), 50);
    };
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return (
    <div class="live" role="status" aria-live="polite" aria-atomic="true" data-testid="live">
      {text}
    </div>
  );
}

/** An error from a call, with the catalogue's code and message; nothing
 * when error is null or undefined. role=alert: read out at once. */
export function ErrorBox({ error }: { error: unknown }): JSX.Element | null {
  if (error == null) return null;
  let code = 0;
  let message: string;
  let status = 0;
  if (error instanceof ApiError) {
    code = error.code;
    message = error.message;
    status = error.status;
  } else if (error instanceof Error) {
    message = error.message;
  } else {
    message = String(error);
  }
  return (
    <div class="error-box" role="alert">
      {code ? (
        <strong class="error-code" data-code={code}>
          Error {code}
        </strong>
      ) : status ? (
        <strong class="error-code">HTTP {status}</strong>
      ) : (
        <strong class="error-code">Error</strong>
      )}{" "}
      <span class="error-message">{message}</span>
    </div>
  );
}

let fieldSeq = 0;

/** A stable id for a label's input, unique in the page. */
export function useId(prefix = "f"): string {
  const ref = useRef("");
  if (!ref.current) ref.current = `${prefix}-${++fieldSeq}`;
  return ref.current;
}

type FieldProps = {
  label: string;
  value: string;
  onInput: (value: string) => void;
  type?: string;
  name?: string;
  required?: boolean;
  multiline?: boolean;
  rows?: number;
  hint?: string;
  placeholder?: string;
  autoComplete?: string;
  disabled?: boolean;
  /** Monospace: keys, IDs, JSON. */
  mono?: boolean;
};

/** A labelled text input (or textarea with multiline), with an optional
 * hint read by screen readers after the label. */
export function Field(p: FieldProps): JSX.Element {
  const id = useId("field");
  const hintID = p.hint ? `${id}-hint` : undefined;
  const common = {
    id,
    name: p.name,
    value: p.value,
    required: p.required,
    placeholder: p.placeholder,
    disabled: p.disabled,
    "aria-describedby": hintID,
    class: p.mono ? "mono" : undefined,
    spellcheck: false,
    onInput: (e: Event) => p.onInput((e.currentTarget as HTMLInputElement).value),
  };
  return (
    <div class="field">
      <label for={id}>
        {p.label}
        {p.required ? <span aria-hidden="true"> *</span> : null}
      </label>
      {p.multiline ? (
        <textarea {...common} rows={p.rows ?? 6} />
      ) : (
        <input {...common} type={p.type ?? "text"} autoComplete={p.autoComplete ?? "off"} />
      )}
      {p.hint ? (
        <p class="hint" id={hintID}>
          {p.hint}
        </p>
      ) : null}
    </div>
  );
}

type ButtonProps = Omit<JSX.HTMLAttributes<HTMLButtonElement>, "type"> & {
  /** primary (the form's action), secondary (default), danger. */
  kind?: "primary" | "secondary" | "danger";
  type?: "button" | "submit";
  /** Busy: disabled and marked aria-busy while a call runs. */
  busy?: boolean;
  disabled?: boolean;
  children: ComponentChildren;
};

/** A button; type defaults to "button" (submit must be asked for). */
export function Button({ kind = "secondary", type = "button", busy, disabled, children, ...rest }: ButtonProps): JSX.Element {
  return (
    <button {...rest} type={type} class={`btn btn-${kind}`} disabled={disabled || busy} aria-busy={busy ? "true" : undefined}>
      {children}
    </button>
  );
}

export type Column<T> = {
  /** The header. */
  label: string;
  /** The cell; plain text of a field by default. */
  render: (row: T) => ComponentChildren;
  /** Monospace cells (IDs, keys). */
  mono?: boolean;
};

/** A table with a caption (its accessible name), scrolling sideways on a
 * narrow screen rather than overflowing the page. */
export function Table<T>({ caption, columns, rows, rowKey, empty = "Nothing to show." }: {
  caption: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  empty?: string;
}): JSX.Element {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={caption}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" key={c.label}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colSpan={columns.length} class="empty">
                {empty}
              </td>
            </tr>
          ) : (
            rows.map((r) => (
              <tr key={rowKey(r)}>
                {columns.map((c) => (
                  <td key={c.label} class={c.mono ? "mono" : undefined}>
                    {c.render(r)}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

/** Loads data with fn when deps change: {data, error, loading, reload}.
 * A reply that arrives after a newer load started is dropped. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
} {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const n = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => n === seq.current && setState({ data, error: null, loading: false }),
      (error) => n === seq.current && setState({ data: undefined, error, loading: false }),
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** A placeholder for a page not built yet. */
export function Placeholder({ what }: { what: string }): JSX.Element {
  return (
    <section class="card placeholder">
      <p>{what}: this page is not built yet.</p>
    </section>
  );
}

/** A file picked in a labelled input and read in the browser (FileReader,
 * as text): nothing is uploaded until the form using it is sent. The
 * loaded file's name is shown (and read out) after the input. */
export function FileField(p: {
  label: string;
  name?: string;
  accept?: string;
  hint?: string;
  required?: boolean;
  /** The name of the file loaded, "" for none. */
  loaded: string;
  onLoad: (text: string, fileName: string) => void;
  onError?: (e: Error) => void;
}): JSX.Element {
  const id = useId("file");
  const hintID = `${id}-hint`;
  function pick(e: Event) {
    const input = e.currentTarget as HTMLInputElement;
    const f = input.files?.[0];
    if (!f) return;
    const r = new FileReader();
    r.onload = () => p.onLoad(typeof r.result === "string" ? r.result : "", f.name);
    r.onerror = () => p.onError?.(new Error(`${f.name} could not be read`));
    r.readAsText(f);
  }
  return (
    <div class="field">
      <label for={id}>
        {p.label}
        {p.required ? <span aria-hidden="true"> *</span> : null}
      </label>
      <input id={id} name={p.name} type="file" accept={p.accept} required={p.required && !p.loaded} aria-describedby={hintID} onChange={pick} />
      <p class="hint" id={hintID}>
        {p.loaded ? <span class="ok file-loaded">Loaded {p.loaded}. </span> : null}
        {p.hint ?? ""}
      </p>
    </div>
  );
}

/** A labelled checkbox, with an optional hint. */
export function Checkbox(p: { label: string; name?: string; checked: boolean; onChange: (v: boolean) => void; hint?: string }): JSX.Element {
  const id = useId("check");
  const hintID = p.hint ? `${id}-hint` : undefined;
  return (
    <div class="field check">
      <input
        id={id}
        name={p.name}
        type="checkbox"
        checked={p.checked}
        aria-describedby={hintID}
        onChange={(e) => p.onChange((e.currentTarget as HTMLInputElement).checked)}
      />{" "}
      <label for={id}>{p.label}</label>
      {p.hint ? (
        <p class="hint" id={hintID}>
          {p.hint}
        </p>
      ) : null}
    </div>
  );
}

/** A labelled select of fixed options ({value, label}). */
export function Select(p: {
  label: string;
  name?: string;
  value: string;
  options: { value: string; label: string }[];
  onChange: (v: string) => void;
  hint?: string;
}): JSX.Element {
  const id = useId("select");
  const hintID = p.hint ? `${id}-hint` : undefined;
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <select id={id} name={p.name} value={p.value} aria-describedby={hintID} onChange={(e) => p.onChange((e.currentTarget as HTMLSelectElement).value)}>
        {p.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {p.hint ? (
        <p class="hint" id={hintID}>
          {p.hint}
        </p>
      ) : null}
    </div>
  );
}

/** Moves the focus to ref's element whenever value turns truthy: an
 * error or a result just shown, so that keyboard and screen-reader users
 * land on it. The element needs tabIndex={-1}. */
export function useFocusWhen(value: unknown): { current: HTMLElement | null } {
  const ref = useRef<HTMLElement | null>(null);
  useEffect(() => {
    if (value) ref.current?.focus();
  }, [value]);
  return ref;
}
