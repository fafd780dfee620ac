// A real Herald server for the tests: `herald serve --emulate` on a
// loopback port with its own data directory, the development app's
// credentials, the emulators' manifest, login tokens, and stop / kill /
// restart on the same port and data.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { inject } from 'vitest';

export interface StartOptions {
  /** Run the vendor emulators in process (default true). */
  emulate?: boolean;
  /** More `herald serve` flags, e.g. ['--allowed-origins', 'localhost:*']. */
  args?: string[];
}

export interface DevApp {
  appID: string;
  secret: string;
  adminKey: string;
}

export class HeraldServer {
  /** ws://127.0.0.1:PORT — what ZIM.create's `server` takes. */
  url = '';
  /** http://127.0.0.1:PORT */
  httpURL = '';
  app: DevApp = { appID: '', secret: '', adminKey: '' };
  /** emulators.json (with --emulate); phones.url is the emulated phones API. */
  manifest: Record<string, any> = {};
  readonly dataDir: string;
  private proc: ChildProcess | undefined;
  private addr = '127.0.0.1:0';
  private exited: Promise<void> = Promise.resolve();
  private stderrTail: string[] = [];

  constructor(private readonly opts: StartOptions = {}) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'herald-ts-'));
  }

  /** start runs the server and resolves once it listens. */
  async start(): Promise<void> {
    const bin = inject('heraldBin');
    const args = ['serve', '--data', this.dataDir, '--addr', this.addr, '--log-format', 'json', '--log-level', 'info'];
    if (this.opts.emulate ?? true) args.push('--emulate');
    args.push(...(this.opts.args ?? []));
    const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const addr = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: proc.stderr! });
      const onExit = (code: number | null) =>
        reject(new Error(`herald serve exited (${code}) before listening:\n${this.stderrTail.join('\n')}`));
      proc.once('exit', onExit);
      lines.on('line', (line) => {
        this.stderrTail.push(line);
        if (this.stderrTail.length > 50) this.stderrTail.shift();
        let rec: { msg?: string; addr?: string };
        try {
          rec = JSON.parse(line);
        } catch {
          return;
        }
        if (rec.msg === 'herald serving' && rec.addr) {
          proc.off('exit', onExit);
          resolve(rec.addr);
        }
      });
    });
    this.addr = addr;
    this.url = `ws://${addr}`;
    this.httpURL = `http://${addr}`;
    this.app = JSON.parse(readFileSync(join(this.dataDir, 'dev-app.json'), 'utf8')) as DevApp;
    if (this.opts.emulate ?? true) {
      this.manifest = JSON.parse(readFileSync(join(this.dataDir, 'emulators.json'), 'utf8'));
    }
  }

  /** stop ends the server gracefully (SIGTERM) and waits for its exit. */
  async stop(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    await this.exited;
  }

  /** kill ends the server at once (SIGKILL), as a crash. */
  async kill(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** restart stops (gracefully unless crash) and starts on the same port and data. */
  async restart(crash = false): Promise<void> {
    await (crash ? this.kill() : this.stop());
    await this.start();
  }

  /** dispose stops the server and removes its data. */
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** token mints a login token for userID, as an app's backend does. */
  token(userID: string, ttlSeconds = 3600): string {
    return mintToken(this.app.appID, this.app.secret, userID, ttlSeconds);
  }

  /** The tail of the server's log, for failure messages. */
  log(): string {
    return this.stderrTail.join('\n');
  }
}

/** startServer starts a HeraldServer; dispose it in afterAll. */
export async function startServer(opts: StartOptions = {}): Promise<HeraldServer> {
  const s = new HeraldServer(opts);
  await s.start();
  return s;
}

/** mintToken makes an HS256 login token (docs/protocol.md, "Login tokens"). */
export function mintToken(appID: string, secret: string, userID: string, ttlSeconds: number): string {
  const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64(
    JSON.stringify({ app: appID, sub: userID, iat: now, exp: now + ttlSeconds, jti: randomBytes(8).toString('hex') }),
  );
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}
