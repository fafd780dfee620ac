// Clients for the group and call tests: several users at once against one
// real server, each with a recorder of the events it raised.
import WebSocket from 'ws';
import type { Core } from '../src/zim/core.js';
import { ZIMCalls } from '../src/zim/calls.js';
import type { ZIMEventHandler } from '../src/zim/events.js';
import { ZIMError } from '../src/errors.js';
import type { HeraldServer } from './harness.js';

type EventName = keyof ZIMEventHandler;
type EventData<K extends EventName> = Parameters<ZIMEventHandler[K]>[1];

/** Recorder keeps a client's events in arrival order and lets a test await one. */
export class Recorder {
  readonly log: { name: EventName; data: unknown }[] = [];
  private waiters: { name: EventName; pred: (d: any) => boolean; from: number; resolve: (d: any) => void }[] = [];

  push(name: EventName, data: unknown): void {
    this.log.push({ name, data });
    const i = this.log.length - 1;
    this.waiters = this.waiters.filter((w) => {
      if (w.name === name && i >= w.from && w.pred(data)) {
        w.resolve(data);
        return false;
      }
      return true;
    });
  }

  /** all returns the events named so far. */
  all<K extends EventName>(name: K, pred: (d: EventData<K>) => boolean = () => true): EventData<K>[] {
    return this.log.filter((e) => e.name === name && pred(e.data as EventData<K>)).map((e) => e.data as EventData<K>);
  }

  /** mark is the position of the next event: wait(name, pred, mark) looks only from there. */
  mark(): number {
    return this.log.length;
  }

  /** wait resolves with the first event named (from position from) that pred accepts. */
  wait<K extends EventName>(
    name: K,
    pred: (d: EventData<K>) => boolean = () => true,
    from = 0,
    timeoutMs = 10_000,
  ): Promise<EventData<K>> {
    for (let i = from; i < this.log.length; i++) {
      const e = this.log[i]!;
      if (e.name === name && pred(e.data as EventData<K>)) return Promise.resolve(e.data as EventData<K>);
    }
    return new Promise((resolve, reject) => {
      const w = { name, pred: pred as (d: any) => boolean, from, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        if (this.waiters.includes(w)) {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new Error(`no ${name} event within ${timeoutMs} ms; got ${JSON.stringify(this.log.map((e) => e.name))}`));
        }
      }, timeoutMs).unref();
    });
  }
}

/**
 * A minimal Core over one WebSocket: login, requests, server events. It
 * stands in for the connection until the SDK's own is merged.
 */
class MiniCore implements Core {
  zim: any;
  userID = '';
  private ws!: WebSocket;
  private nextID = 1;
  private pending = new Map<string, { resolve: (d: any) => void; reject: (e: Error) => void }>();
  private handlers = new Map<string, ((d: unknown) => void)[]>();
  private loggedIn: (() => void)[] = [];
  readonly raw: { type: string; data: any }[] = [];

  constructor(private readonly rec: Recorder) {}

  async login(url: string, appID: string, userID: string, token: string, deviceID: string): Promise<void> {
    this.ws?.close();
    this.ws = new WebSocket(`${url}/v1/ws`);
    await new Promise((r, j) => this.ws.once('open', r).once('error', j));
    this.ws.on('message', (b) => this.frame(JSON.parse(String(b))));
    await this.send('login', { appID, userID, token, platform: 'web', deviceID });
    this.userID = userID;
    this.fireLoggedIn();
  }

  fireLoggedIn(): void {
    for (const h of this.loggedIn) h();
  }

  close(): void {
    this.ws?.close();
  }

  /** inject hands a server event to the feature layers as if it came on the wire. */
  inject(type: string, data: unknown): void {
    this.frame({ type, data });
  }

  private frame(f: { type: string; id?: string; data?: any; error?: { code: number; message: string } }): void {
    if (f.type === 'reply') {
      const p = this.pending.get(f.id ?? '');
      if (!p) return;
      this.pending.delete(f.id ?? '');
      if (f.error) p.reject(new ZIMError(f.error.code, f.error.message));
      else p.resolve(f.data ?? {});
      return;
    }
    this.raw.push({ type: f.type, data: f.data });
    for (const h of this.handlers.get(f.type) ?? []) h(f.data ?? {});
  }

  private send(type: string, data: unknown): Promise<any> {
    const id = String(this.nextID++);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ type, id, data }));
    });
  }

  request<T = unknown>(type: string, data?: unknown): Promise<T> {
    return this.send(type, data ?? {});
  }
  onServerEvent(type: string, handler: (data: unknown) => void): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler]);
  }
  onLoggedIn(handler: () => void): void {
    this.loggedIn.push(handler);
  }
  emit<K extends keyof ZIMEventHandler>(event: K, data: Parameters<ZIMEventHandler[K]>[1]): void {
    this.rec.push(event, data);
  }
}

class TestZIM extends ZIMCalls {
  protected readonly core: Core;
  constructor(core: MiniCore) {
    super();
    this.core = core;
    core.zim = this;
    this.attachFeatures();
  }
}

export interface Client {
  user: string;
  zim: ZIMCalls;
  ev: Recorder;
  /** The server events as they came on the wire. */
  raw: { type: string; data: any }[];
  /** relogin logs the same client in again on a new connection, as a reconnect does. */
  relogin(): Promise<void>;
  close(): Promise<void>;
}

let devices = 0;

/** login logs user in to srv as a new client (its own device). */
export async function login(srv: HeraldServer, user: string): Promise<Client> {
  const ev = new Recorder();
  const core = new MiniCore(ev);
  const zim = new TestZIM(core);
  const device = `dev-${user}-${++devices}`;
  await core.login(srv.url, srv.app.appID, user, srv.token(user), device);
  return {
    user,
    zim,
    ev,
    raw: core.raw,
    relogin: () => core.login(srv.url, srv.app.appID, user, srv.token(user), device),
    close: async () => core.close(),
  };
}

/**
 * offline returns a client that never connects: inject(type, data) plays
 * server events to it, as user userID.
 */
export function offline(userID: string): { zim: ZIMCalls; ev: Recorder; inject(type: string, data: unknown): void; loggedIn(): void } {
  const ev = new Recorder();
  const core = new MiniCore(ev);
  const zim = new TestZIM(core);
  return {
    zim,
    ev,
    inject: (type, data) => core.inject(type, data),
    loggedIn: () => {
      core.userID = userID;
      core.fireLoggedIn();
    },
  };
}

/** rejection awaits p's rejection and returns its error (failing when p resolves). */
export async function rejection(p: Promise<unknown>): Promise<ZIMError> {
  try {
    await p;
  } catch (e) {
    return e as ZIMError;
  }
  throw new Error('expected a rejection, got a result');
}
