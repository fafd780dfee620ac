// Herald's service worker for Web Push: what dist/herald-sw.js runs. It is
// a function of the worker's global scope so that tests can run it
// against a scope of their own.
import type { PushSourceMessage } from './source.js';
import type { WebPushWorkerMessage } from './webpush.js';

/** The push's plaintext as Herald's webpush provider sends it. */
export interface WebPushMessage {
  id?: string;
  title?: string;
  content?: string;
  payload?: string;
  tag?: string;
  badge?: number;
  extras?: Record<string, string>;
}

/** A window client the worker tells. */
export interface WorkerClientLike {
  postMessage(m: WebPushWorkerMessage): void;
  focus?(): Promise<unknown>;
}

/** The parts of ServiceWorkerGlobalScope the worker uses. */
export interface WorkerScopeLike {
  addEventListener(type: 'push', l: (e: { data: { json(): unknown } | null; waitUntil(p: Promise<unknown>): void }) => void): void;
  addEventListener(
    type: 'notificationclick',
    l: (e: { notification: { data: unknown; close(): void }; waitUntil(p: Promise<unknown>): void }) => void,
  ): void;
  registration: { showNotification(title: string, options: { body?: string; tag?: string; data?: unknown }): Promise<void> };
  /** WorkerNavigator: setAppBadge where the browser has the Badging API. */
  navigator?: { setAppBadge?(contents?: number): Promise<void> };
  clients: {
    matchAll(o: { type: 'window'; includeUncontrolled: boolean }): Promise<readonly WorkerClientLike[]>;
    openWindow?(url: string): Promise<unknown>;
  };
}

function sourceMessage(m: WebPushMessage): PushSourceMessage {
  const out: PushSourceMessage = {};
  if (m.title !== undefined) out.title = m.title;
  if (m.content !== undefined) out.content = m.content;
  if (m.payload !== undefined) out.payload = m.payload;
  if (m.extras !== undefined) out.extras = m.extras;
  return out;
}

function readMessage(data: { json(): unknown } | null): WebPushMessage {
  try {
    const m = data?.json();
    return typeof m === 'object' && m !== null ? (m as WebPushMessage) : {};
  } catch {
    return {};
  }
}

/**
 * installHeraldServiceWorker makes scope Herald's service worker: each push
 * is shown (registration.showNotification with its title, content as
 * body and tag, so a newer notification with the push's collapse ID
 * replaces the shown one) and then posted to every open page of the site
 * as notificationArrived; a push with a badge (the push config's
 * enableBadge) sets the app's badge with navigator.setAppBadge (the W3C
 * Badging API; 0 clears it) where the browser has it; a click posts
 * notificationClicked and focuses a page (or opens the site's root when
 * none is open).
 */
export function installHeraldServiceWorker(scope: WorkerScopeLike): void {
  const tell = async (event: 'notificationArrived' | 'notificationClicked', m: WebPushMessage) => {
    const pages = await scope.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const p of pages) p.postMessage({ herald: 'webpush', event, message: sourceMessage(m) });
    return pages;
  };
  scope.addEventListener('push', (e) => {
    const m = readMessage(e.data);
    const opts: { body?: string; tag?: string; data?: unknown } = { data: m };
    if (m.content !== undefined) opts.body = m.content;
    if (m.tag) opts.tag = m.tag;
    const shown = scope.registration.showNotification(m.title ?? '', opts);
    // A browser without the Badging API, or one refusing it, still
    // shows the notification.
    const badge =
      typeof m.badge === 'number' && Number.isInteger(m.badge) && m.badge >= 0 && scope.navigator?.setAppBadge
        ? scope.navigator.setAppBadge(m.badge).catch(() => {})
        : Promise.resolve();
    e.waitUntil(Promise.all([shown, badge]).then(() => tell('notificationArrived', m)));
  });
  scope.addEventListener('notificationclick', (e) => {
    e.notification.close();
    const d = e.notification.data;
    const m = typeof d === 'object' && d !== null ? (d as WebPushMessage) : {};
    e.waitUntil(
      tell('notificationClicked', m).then(async (pages) => {
        if (pages.length > 0) await pages[0]!.focus?.();
        else await scope.clients.openWindow?.('/');
      }),
    );
  });
}
