// The console's one API client. It talks to the admin API of the server
// that served the console (same origin, so no CORS and, with the key sent
// as a bearer header and no cookies, no CSRF: another site's page cannot
// make the browser attach the key). The key lives in sessionStorage only:
// it is gone when the tab closes, and never written to localStorage or a
// cookie.

/** Who is signed in: an app's admin key, or the operator key. */
export type Session =
  | { mode: "app"; appID: string; key: string }
  | { mode: "operator"; key: string };

const storageKey = "herald.console.session";

/** The session kept in sessionStorage, or null. */
export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(storageKey);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (s && s.mode === "app" && typeof s.appID === "string" && typeof s.key === "string") return s;
    if (s && s.mode === "operator" && typeof s.key === "string") return s;
  } catch {
    // unreadable: treated as signed out
  }
  return null;
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(storageKey, JSON.stringify(s));
}

/** Signs out: forgets everything the console kept. */
export function clearSession(): void {
  sessionStorage.clear();
}

/** An error reply of the API: the HTTP status and the catalogue's code and
 * message (docs/protocol.md, "Error codes"). code is 0 when the reply was
 * not the API's (a proxy's page, a network failure). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: number;
  constructor(status: number, code: number, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** The codes that say the session's key no longer opens the API: the
 * admin key is wrong (rotated), the app was disabled, the operator key is
 * wrong. The console then signs out. */
export const authErrorCodes: readonly number[] = [40105, 40106, 40107];

export type ApiOptions = {
  /** The server's origin; "" (the default) is the origin that served the
   * console. */
  base?: string;
  /** Called with an error of authErrorCodes before it is thrown. */
  onAuthError?: (e: ApiError) => void;
};

/** A JSON client of the admin API with the session's key. */
export class ApiClient {
  readonly session: Session;
  readonly base: string;
  private readonly onAuthError?: (e: ApiError) => void;

  constructor(session: Session, opts: ApiOptions = {}) {
    this.session = session;
    this.base = opts.base ?? "";
    this.onAuthError = opts.onAuthError;
  }

  /** p under the signed-in app: appPath("/users/query") is
   * "/v1/apps/{appID}/users/query". Throws in operator mode. */
  appPath(p: string): string {
    if (this.session.mode !== "app") throw new Error("appPath: signed in as the operator, not an app");
    return `/v1/apps/${encodeURIComponent(this.session.appID)}${p}`;
  }

  /** p under the operator's routes: adminPath("/apps") is "/v1/admin/apps". */
  adminPath(p: string): string {
    return `/v1/admin${p}`;
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  post<T = unknown>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }
  put<T = unknown>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }
  patch<T = unknown>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }
  del<T = unknown>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /** One call: the reply's JSON (undefined for an empty reply), or an
   * ApiError. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.session.key}`,
      Accept: "application/json",
    };
    let payload: string | undefined;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let resp: Response;
    try {
      resp = await fetch(this.base + path, {
        method,
        headers,
        body: payload,
        credentials: "omit",
        cache: "no-store",
        redirect: "error",
      });
    } catch (e) {
      throw new ApiError(0, 0, `the server could not be reached (${e instanceof Error ? e.message : String(e)})`);
    }
    const text = await resp.text();
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    if (!resp.ok) {
      const d = data as { code?: unknown; message?: unknown } | undefined;
      if (d && typeof d.code === "number") {
        const err = new ApiError(resp.status, d.code, typeof d.message === "string" ? d.message : "");
        if (authErrorCodes.includes(err.code)) this.onAuthError?.(err);
        throw err;
      }
      throw new ApiError(resp.status, 0, `HTTP ${resp.status} ${resp.statusText}`.trim());
    }
    return data as T;
  }
}

/** Proves the session's key with a cheap call it must be allowed (an
 * app's credential list, or the operator's first app): resolves, or
 * rejects with the API's error. */
export async function checkKey(api: ApiClient): Promise<void> {
  if (api.session.mode === "app") await api.get(api.appPath("/push/credentials"));
  else await api.get(api.adminPath("/apps?limit=1"));
}

/** What every page component is given (see pages in main.tsx). */
export interface PageProps {
  /** The client with the signed-in key. */
  api: ApiClient;
  /** Who is signed in (api.session). */
  session: Session;
  /** The query of the route: "#/trace?message=m1" gives message=m1. */
  query: URLSearchParams;
}
