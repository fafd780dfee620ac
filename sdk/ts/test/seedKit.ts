// Helpers for the seed's scenarios (seed.test.ts): every app is its own
// copy of the SDK (its own ZIM and ZPNs singletons, as on separate
// phones), phones are Herald's emulated phones, and waits are on what the
// server or the phone reports, not on time.
import { expect, vi } from 'vitest';
import type { HeraldServer } from './harness.js';

export type SDK = typeof import('../src/node.js');

/**
 * device loads a fresh copy of the SDK: a phone's app process. Two apps
 * in one test process share nothing (ZIM.getInstance, ZPNs.getInstance,
 * the ZIM/ZPNs link), and a killed app comes back with nothing in memory.
 */
export async function device(): Promise<SDK> {
  vi.resetModules();
  return import('../src/node.js');
}

/** One event a phone reports (the phones API's deliveries). */
export interface PhoneEvent {
  event: string;
  vendor: string;
  title?: string;
  content?: string;
  payload?: string;
  kind: string;
  seq: number;
  callID?: string;
  heraldTruncated?: string;
  extras?: Record<string, string>;
}

/**
 * phoneEvents long-polls the phones API until `until` holds for the
 * phone's events after `after`, and returns them.
 */
export async function phoneEvents(
  phonesURL: string,
  phoneID: string,
  until: (evs: PhoneEvent[]) => boolean,
  { after = 0, timeoutMs = 20_000 } = {},
): Promise<PhoneEvent[]> {
  const deadline = Date.now() + timeoutMs;
  const out: PhoneEvent[] = [];
  let next = after;
  for (;;) {
    if (until(out)) return out;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`phone ${phoneID}: the awaited events did not come; got ${JSON.stringify(out)}`);
    const wait = Math.max(1, Math.min(10, Math.floor(left / 1000)));
    const res = await fetch(`${phonesURL}/phones/${phoneID}/events?after=${next}&wait=${wait}s`);
    if (!res.ok) throw new Error(`phones API: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { deliveries: PhoneEvent[]; next: number };
    out.push(...body.deliveries);
    next = body.next;
  }
}

/** phoneEventCount returns how many events the phone has reported so far. */
export async function phoneEventCount(phonesURL: string, phoneID: string): Promise<number> {
  const res = await fetch(`${phonesURL}/phones/${phoneID}/events?after=0&wait=0s`);
  if (!res.ok) throw new Error(`phones API: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { next: number }).next;
}

/**
 * waitSessions waits until the server counts n logged-in sessions (the
 * herald_sessions gauge): after an app is killed, its user is offline
 * from the moment the count drops, so a send then pushes.
 */
export async function waitSessions(srv: HeraldServer, n: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const text = await (await fetch(`${srv.httpURL}/metrics`)).text();
    const m = /^herald_sessions (\S+)$/m.exec(text);
    last = m?.[1] ?? '?';
    if (Number(last) === n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`herald_sessions is ${last}, want ${n}`);
}

/**
 * Recorder keeps what an emitter raised, by event name, so that a test
 * can wait for an event that may already have come.
 */
export class Recorder<T = unknown> {
  private readonly seen = new Map<string, T[]>();
  private readonly waiters = new Set<() => void>();

  /** handler returns a function that records its last argument under name. */
  handler(name: string): (...args: any[]) => void {
    return (...args: any[]) => {
      const list = this.seen.get(name) ?? [];
      list.push(args[args.length - 1] as T);
      this.seen.set(name, list);
      for (const w of [...this.waiters]) w();
    };
  }

  all(name: string): T[] {
    return this.seen.get(name) ?? [];
  }

  /** next resolves with the first recorded `name` that matches. */
  next(name: string, match: (v: T) => boolean = () => true, timeoutMs = 15_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.all(name).find(match);
        if (hit === undefined) return false;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${name} in ${timeoutMs} ms; got ${JSON.stringify([...this.seen.keys()])}`));
      }, timeoutMs);
      if (!check()) this.waiters.add(check);
    });
  }
}

/** expectCode asserts that p rejects with a ZIMError of code. */
export async function expectCode(p: Promise<unknown>, code: number): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `want a rejection with code ${code}`).toMatchObject({ code });
}
