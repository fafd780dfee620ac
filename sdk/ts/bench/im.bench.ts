// Benchmarks of the IM client against a real server (npm run bench):
// one send's round trip (sendMessage resolves after the commit), and a
// burst of sends from one client until the peer's client raised them all
// (the SDK's decoding, dedupe and acks on the receiving side included).
import { afterAll, beforeAll, bench, describe } from 'vitest';
import { ZIM } from '../src/node.js';
import { startServer, type HeraldServer } from '../test/harness.js';

let srv: HeraldServer;
let alice: ZIM;
let bob: ZIM;
let received = 0;
let waiting: { n: number; done: () => void } | undefined;

beforeAll(async () => {
  srv = await startServer({ emulate: false });
  alice = ZIM.create({ appID: srv.app.appID, server: srv.url });
  bob = ZIM.create({ appID: srv.app.appID, server: srv.url });
  bob.on('peerMessageReceived', (_z, { messageList }) => {
    received += messageList.length;
    if (waiting && received >= waiting.n) waiting.done();
  });
  await alice.login('bench-alice', { token: srv.token('bench-alice') });
  await bob.login('bench-bob', { token: srv.token('bench-bob') });
});

afterAll(async () => {
  alice?.destroy();
  bob?.destroy();
  await srv?.dispose();
});

function until(n: number): Promise<void> {
  if (received >= n) return Promise.resolve();
  return new Promise((done) => (waiting = { n, done }));
}

describe('sendMessage', () => {
  bench('one send, awaited (round trip to the commit)', async () => {
    await alice.sendMessage({ type: 1, message: 'ping' }, 'bench-bob', 0);
  });

  bench('100 sends in flight, until the peer raised them all', async () => {
    const target = received + 100;
    const sends = [];
    for (let i = 0; i < 100; i++) sends.push(alice.sendMessage({ type: 1, message: `m${i}` }, 'bench-bob', 0));
    await Promise.all(sends);
    await until(target);
  });
});
