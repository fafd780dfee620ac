// Clients for the group and call tests: several users at once (one ZIM
// each) against one real server, each with a recorder of the events it
// raised and the frames its connections received.
import WebSocket from 'ws';
import { ZIM, ZIMError, setWebSocketImplementation, type WebSocketConstructor } from '../src/node.js';
import type { Core } from '../src/zim/core.js';
import { ZIMCalls } from '../src/zim/calls.js';
import type { ZIMEventHandler } from '../src/zim/events.js';
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

/** A frame a client's connection received. */
export interface Frame {
  type: string;
  data?: any;
}

/**
 * TapSocket is `ws` that remembers, per device, what the server sent: the
 * tests check what came on the wire against what reached the app, and
 * break a connection to make the SDK reconnect.
 */
class TapSocket extends WebSocket {
  static readonly byDevice = new Map<string, TapSocket[]>();
  static readonly frames = new Map<string, Frame[]>();
  /** Devices whose logins fail (the connection breaks first): the SDK keeps reconnecting. */
  static readonly blocked = new Set<string>();
  private device = '';

  constructor(url: string) {
    super(url);
    this.on('message', (b) => {
      if (!this.device) return;
      try {
        TapSocket.frames.get(this.device)?.push(JSON.parse(String(b)) as Frame);
      } catch {
        /* not a frame */
      }
    });
  }

  override send(data: any, ...rest: any[]): void {
    if (!this.device && typeof data === 'string') {
      const f = JSON.parse(data) as { type: string; data?: { deviceID?: string } };
      if (f.type === 'login' && f.data?.deviceID && TapSocket.blocked.has(f.data.deviceID)) {
        this.terminate();
        return;
      }
      if (f.type === 'login' && f.data?.deviceID) {
        this.device = f.data.deviceID;
        const list = TapSocket.byDevice.get(this.device) ?? [];
        list.push(this);
        TapSocket.byDevice.set(this.device, list);
        if (!TapSocket.frames.has(this.device)) TapSocket.frames.set(this.device, []);
      }
    }
    (super.send as (...a: any[]) => void)(data, ...rest);
  }
}
setWebSocketImplementation(TapSocket as unknown as WebSocketConstructor);

const EVENTS: EventName[] = [
  'connectionStateChanged',
  'groupMessageReceived',
  'peerMessageReceived',
  'groupStateChanged',
  'groupMemberStateChanged',
  'groupMemberInfoUpdated',
  'groupApplicationListChanged',
  'groupApplicationUpdated',
  'groupVerifyInfoUpdated',
  'callInvitationReceived',
  'callInvitationCancelled',
  'callInvitationTimeout',
  'callInvitationEnded',
  'callUserStateChanged',
  'conversationChanged',
  'userRuleUpdated',
];

export interface Client {
  user: string;
  zim: ZIM;
  ev: Recorder;
  /** The frames the server sent this client's connections, in order. */
  frames(): Frame[];
  /** drop breaks the current connection (as a network failure does): the SDK reconnects. */
  drop(): void;
  /** block makes this client's logins fail while on (an outage): the SDK keeps reconnecting. */
  block(on: boolean): void;
  /** logout logs out; login logs in again (the app's own calls). */
  logout(): Promise<void>;
  login(): Promise<void>;
  /** close destroys the ZIM (the connection ends without a logout). */
  close(): Promise<void>;
}

let devices = 0;

/** newClient creates a ZIM for user with a recorder; not logged in. */
export function newClient(srv: HeraldServer, user: string): Client {
  const deviceID = `dev-${user}-${process.pid}-${++devices}`;
  const zim = ZIM.create({ appID: srv.app.appID, server: srv.url, deviceID, platform: 'linux' });
  const ev = new Recorder();
  for (const name of EVENTS) zim.on(name, ((_: ZIM, data: unknown) => ev.push(name, data)) as never);
  return {
    user,
    zim,
    ev,
    frames: () => TapSocket.frames.get(deviceID) ?? [],
    drop: () => TapSocket.byDevice.get(deviceID)?.slice(-1)[0]?.terminate(),
    block: (on) => void (on ? TapSocket.blocked.add(deviceID) : TapSocket.blocked.delete(deviceID)),
    logout: () => zim.logout(),
    login: () => zim.login(user, { token: srv.token(user) }),
    close: async () => zim.destroy(),
  };
}

/** login creates a ZIM for user and logs it in. */
export async function login(srv: HeraldServer, user: string): Promise<Client> {
  const c = newClient(srv, user);
  await c.login();
  return c;
}

/**
 * A Core that never connects: inject plays server events to the feature
 * layers (the unit tests of what they make of odd sequences).
 */
class FakeCore implements Core {
  zim!: ZIM;
  userID = '';
  private handlers = new Map<string, ((d: unknown) => void)[]>();
  private loggedIn: ((info: { reconnect: boolean }) => void)[] = [];

  constructor(private readonly rec: Recorder) {}

  request<T = unknown>(): Promise<T> {
    return Promise.reject(new ZIMError(40100, 'not logged in'));
  }
  onServerEvent(type: string, handler: (data: unknown) => void): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler]);
  }
  onLoggedIn(handler: (info: { reconnect: boolean }) => void): void {
    this.loggedIn.push(handler);
  }
  emit<K extends keyof ZIMEventHandler>(event: K, data: Parameters<ZIMEventHandler[K]>[1]): void {
    this.rec.push(event, data);
  }
  inject(type: string, data: unknown): void {
    for (const h of this.handlers.get(type) ?? []) h(data);
  }
  fireLoggedIn(reconnect: boolean): void {
    for (const h of this.loggedIn) h({ reconnect });
  }
}

class FakeZIM extends ZIMCalls {
  protected readonly core: Core;
  constructor(core: FakeCore) {
    super();
    this.core = core;
    core.zim = this as unknown as ZIM;
    this.attach();
  }
}

/**
 * offline returns a client on a FakeCore: inject(type, data) plays server
 * events to it; loggedIn(reconnect) plays a login of userID.
 */
export function offline(userID: string): {
  ev: Recorder;
  inject(type: string, data: unknown): void;
  loggedIn(reconnect: boolean): void;
} {
  const ev = new Recorder();
  const core = new FakeCore(ev);
  new FakeZIM(core);
  return {
    ev,
    inject: (type, data) => core.inject(type, data),
    loggedIn: (reconnect) => {
      core.userID = userID;
      core.fireLoggedIn(reconnect);
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
