// A scripted WebSocket server for the cases a real server does not
// produce on demand: a reply that never comes, a connection lost with a
// request in flight, a message delivered again, a refused re-login.
import { WebSocketServer, type WebSocket } from 'ws';

export interface Frame {
  type: string;
  id?: string;
  data?: any;
  error?: { code: number; message: string };
}

/** One connection: the frames it got, and ways to answer. */
export class FakeConn {
  readonly frames: Frame[] = [];
  /** The frames as received (JSON.parse rounds 64-bit integers). */
  readonly raw: string[] = [];
  private waiters: Array<() => void> = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      this.raw.push(String(d));
      this.frames.push(JSON.parse(String(d)));
      for (const w of this.waiters.slice()) w();
    });
  }
  send(f: Frame): void {
    this.ws.send(JSON.stringify(f));
  }
  /** sendRaw sends a frame's text as is. */
  sendRaw(text: string): void {
    this.ws.send(text);
  }
  reply(id: string | undefined, data: unknown = {}): void {
    this.send({ type: 'reply', id, data });
  }
  replyError(id: string | undefined, code: number, message = 'refused'): void {
    this.send({ type: 'reply', id, error: { code, message } });
  }
  /** loginReply answers the login with a normal reply. */
  loginReply(id: string | undefined, userID = 'u'): void {
    this.reply(id, { sessionID: 's', userID, serverTime: Date.now(), heartbeatInterval: 10_000, offlineAfter: 35_000, tokenExpiresAt: Date.now() + 3600_000 });
  }
  message(m: Record<string, unknown>): void {
    this.send({ type: 'message', data: { timestamp: Date.now(), priority: 2, type: 1, conversationType: 0, ...m } });
  }
  close(code: number, reason = ''): void {
    this.ws.close(code, reason);
  }
  /** next resolves with the first frame (from index from) of type that matches. */
  next(type: string, match: (f: Frame) => boolean = () => true, from = 0): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const f = this.frames.slice(from).find((x) => x.type === type && match(x));
        if (f) {
          clearTimeout(t);
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(f);
        }
      };
      const t = setTimeout(() => reject(new Error(`no ${type} frame; got ${JSON.stringify(this.frames)}`)), 10_000);
      this.waiters.push(check);
      check();
    });
  }
}

/** FakeServer accepts connections on a loopback port and hands each to the test. */
export class FakeServer {
  readonly conns: FakeConn[] = [];
  private waiters: Array<() => void> = [];
  private constructor(private readonly wss: WebSocketServer, readonly url: string) {
    wss.on('connection', (ws) => {
      this.conns.push(new FakeConn(ws));
      for (const w of this.waiters.slice()) w();
    });
  }
  static start(): Promise<FakeServer> {
    return new Promise((resolve) => {
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/ws' }, () => {
        const a = wss.address() as { port: number };
        resolve(new FakeServer(wss, `ws://127.0.0.1:${a.port}`));
      });
    });
  }
  /** conn resolves with the n-th connection (0-based). */
  conn(n: number): Promise<FakeConn> {
    return new Promise((resolve) => {
      const check = () => {
        const c = this.conns[n];
        if (c) {
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve(c);
        }
      };
      this.waiters.push(check);
      check();
    });
  }
  close(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}
