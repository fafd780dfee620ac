// Test helpers for the IM client: a ZIM per user against a HeraldServer,
// and a recorder of its events that tests await (no sleeps).
import { ZIM, type ZIMAppConfig, type ZIMEventHandler, type ZIMMessage } from '../src/node.js';
import type { HeraldServer } from './harness.js';

export type EventName = keyof ZIMEventHandler;
export interface Recorded {
  event: EventName;
  data: any;
}

const EVENTS: EventName[] = [
  'connectionStateChanged',
  'tokenWillExpire',
  'conversationSyncStateChanged',
  'peerMessageReceived',
  'groupMessageReceived',
];

let seq = 0;

/** Recorder keeps every event of a ZIM in order and lets tests await one. */
export class Recorder {
  readonly events: Recorded[] = [];
  private waiters: Array<() => void> = [];

  constructor(readonly zim: ZIM) {
    for (const e of EVENTS) {
      zim.on(e, ((_: ZIM, data: unknown) => {
        this.events.push({ event: e, data });
        for (const w of this.waiters.slice()) w();
      }) as never);
    }
  }

  /** messages returns every received message, in the order raised. */
  messages(): ZIMMessage[] {
    return this.events
      .filter((e) => e.event === 'peerMessageReceived' || e.event === 'groupMessageReceived')
      .flatMap((e) => e.data.messageList as ZIMMessage[]);
  }

  texts(): string[] {
    return this.messages().map((m) => String(m.message));
  }

  /** of returns the recorded data of one event. */
  of(event: EventName): any[] {
    return this.events.filter((e) => e.event === event).map((e) => e.data);
  }

  /**
   * until resolves once cond (checked now and after every event) returns a
   * value other than undefined/false; it rejects after ms with what it saw.
   */
  until<T>(what: string, cond: () => T | undefined | false, ms = 15_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        let v: T | undefined | false;
        try {
          v = cond();
        } catch (e) {
          done();
          reject(e);
          return;
        }
        if (v !== undefined && v !== false) {
          done();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events.map((e) => [e.event, summary(e)]))}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  /** next resolves with the data of the first event after index from (default: now) that matches. */
  next(event: EventName, match: (d: any) => boolean = () => true, from = this.events.length, ms?: number): Promise<any> {
    return this.until(
      event,
      () => this.events.slice(from).find((e) => e.event === event && match(e.data))?.data,
      ms,
    );
  }

  /** state resolves when connectionStateChanged reports state (after index from). */
  state(state: number, from = 0, ms?: number): Promise<any> {
    return this.next('connectionStateChanged', (d) => d.state === state, from, ms);
  }

  /** messagesAtLeast resolves when n messages were received. */
  messagesAtLeast(n: number, ms?: number): Promise<ZIMMessage[]> {
    return this.until(`${n} messages`, () => (this.messages().length >= n ? this.messages() : undefined), ms);
  }

  /** syncFinished resolves with the count of the next finished sync after index from. */
  syncFinished(from = 0, ms?: number): Promise<number> {
    return this.next('conversationSyncStateChanged', (d) => d.state === 1, from, ms).then((d) => d.count);
  }
}

function summary(e: Recorded): unknown {
  if (e.event === 'peerMessageReceived' || e.event === 'groupMessageReceived') {
    return { from: e.data.fromConversationID, offline: e.data.info.isOfflineMessage, seqs: e.data.messageList.map((m: any) => m.conversationSeq) };
  }
  return e.data;
}

export interface Client {
  zim: ZIM;
  rec: Recorder;
  userID: string;
}

/** uniq returns a unique ID with a prefix (users and devices of one test file never collide). */
export function uniq(prefix: string): string {
  return `${prefix}${process.pid}x${++seq}`;
}

/** newClient creates a ZIM for srv with a recorder; not logged in. */
export function newClient(srv: HeraldServer, userID: string, cfg: Partial<ZIMAppConfig> = {}): Client {
  const zim = ZIM.create({ appID: srv.app.appID, server: srv.url, deviceID: uniq('dev'), platform: 'linux', ...cfg });
  return { zim, rec: new Recorder(zim), userID };
}

/** loggedIn creates a ZIM for userID and logs it in. */
export async function loggedIn(srv: HeraldServer, userID: string, cfg: Partial<ZIMAppConfig> = {}): Promise<Client> {
  const c = newClient(srv, userID, cfg);
  const from = c.rec.events.length;
  await c.zim.login(userID, { token: srv.token(userID) });
  // The server counts the session live for routing just after the login
  // reply, before the login sync; once the sync is done, a message sent to
  // the user arrives live (one sent in between comes by the sync, flagged
  // offline).
  await c.rec.syncFinished(from);
  return c;
}

/** text returns a text message. */
export function text(s: string): ZIMMessage {
  return { type: 1, message: s };
}

/** expectReject resolves with the ZIMError a promise rejects with (and fails if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: number; message: string };
  }
  throw new Error('expected the call to fail, it succeeded');
}
