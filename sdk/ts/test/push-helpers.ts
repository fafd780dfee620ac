// Helpers of the push tests: a recorder of ZPNs' events, the server's
// session count (to know a dropped app is offline), sends with a push
// config, and the admin API's delivery trace.
import { expect } from 'vitest';
import { ZIM, ZPNs, type ZPNsEventHandler, type ZPNsEventName, type ZPNsMessage, type ZPNsRegisterMessage } from '../src/node.js';
import type { HeraldServer } from './harness.js';

export interface ZPNsRecord {
  event: ZPNsEventName;
  data: ZPNsMessage | ZPNsRegisterMessage;
}

/** ZPNsRecorder keeps every ZPNs event in order and lets a test await one. */
export class ZPNsRecorder {
  readonly log: ZPNsRecord[] = [];
  private waiters: Array<() => void> = [];

  constructor(zpns: ZPNs) {
    for (const event of ['registered', 'notificationArrived', 'throughMessageReceived', 'notificationClicked'] as const) {
      zpns.on(event, ((data: ZPNsMessage | ZPNsRegisterMessage) => {
        this.log.push({ event, data });
        for (const w of [...this.waiters]) w();
      }) as ZPNsEventHandler[typeof event]);
    }
  }

  /** registered returns the registered events so far. */
  registered(): ZPNsRegisterMessage[] {
    return this.log.filter((r) => r.event === 'registered').map((r) => r.data as ZPNsRegisterMessage);
  }

  /** about returns the notification events whose payload is payload, as [event, message]. */
  about(payload: string): Array<[ZPNsEventName, ZPNsMessage]> {
    return this.log
      .filter((r) => r.event !== 'registered' && (r.data as ZPNsMessage).payload === payload)
      .map((r) => [r.event, r.data as ZPNsMessage]);
  }

  /** until resolves with the first record from position from that pred accepts. */
  until(what: string, pred: (r: ZPNsRecord) => boolean, from = 0, ms = 15_000): Promise<ZPNsRecord> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.log.slice(from).find(pred);
        if (hit) {
          done();
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ZPNs ${what} within ${ms} ms; got ${JSON.stringify(this.log)}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  /** nextRegistered waits for a registered event after position from. */
  async nextRegistered(from: number): Promise<ZPNsRegisterMessage> {
    return (await this.until('registered', (r) => r.event === 'registered', from)).data as ZPNsRegisterMessage;
  }

  mark(): number {
    return this.log.length;
  }
}

/** sessions reads the server's live session count (the herald_sessions gauge). */
export async function sessions(srv: HeraldServer): Promise<number> {
  const text = await (await fetch(`${srv.httpURL}/metrics`)).text();
  const m = /^herald_sessions (\d+)/m.exec(text);
  if (!m) throw new Error('no herald_sessions in /metrics');
  return Number(m[1]);
}

/** settled waits until the server counts n live sessions (a dropped app's session has ended). */
export async function settled(srv: HeraldServer, n: number): Promise<void> {
  await expect.poll(() => sessions(srv), { timeout: 10_000, interval: 10 }).toBe(n);
}

const live = new Set<ZIM>();

/** login creates a ZIM for userID (before(zim) runs before the login: handlers) and logs it in. */
export async function login(srv: HeraldServer, userID: string, before?: (zim: ZIM) => void): Promise<ZIM> {
  const zim = ZIM.create({ appID: srv.app.appID, server: srv.url });
  live.add(zim);
  before?.(zim);
  await zim.login(userID, { token: srv.token(userID) });
  return zim;
}

/** track makes destroyAll destroy zim too. */
export function track(zim: ZIM): ZIM {
  live.add(zim);
  return zim;
}

/** destroyAll destroys every ZIM login made (a failed test's too). */
export function destroyAll(): void {
  for (const z of live) z.destroy();
  live.clear();
}

/** send sends a text with a push config to toUserID; returns the server's message ID. */
export async function send(from: ZIM, toUserID: string, payload: string, title = `T ${payload}`, content = `C ${payload}`): Promise<string> {
  const res = await from.sendMessage({ type: 1, message: `text ${payload}` }, toUserID, 0, {
    priority: 2,
    pushConfig: { title, content, payload },
  });
  return String(res.message.messageID);
}

/** jobs returns the push jobs of a message (the admin API's trace). */
export async function jobs(srv: HeraldServer, messageID: string): Promise<any[]> {
  const resp = await fetch(`${srv.httpURL}/v1/apps/${srv.app.appID}/push/trace?messageID=${messageID}`, {
    headers: { Authorization: `Bearer ${srv.app.adminKey}` },
  });
  expect(resp.status).toBe(200);
  return ((await resp.json()) as { jobs: any[] }).jobs;
}

/** Every Android vendor switched on. */
export const allVendors = { enableFCMPush: true, enableHWPush: true, enableMiPush: true, enableOppoPush: true, enableVivoPush: true, enableHonorPush: true };

let n = 0;
/** uniq makes a user ID unique in the test file. */
export function uniq(prefix: string): string {
  return `${prefix}-${++n}`;
}
