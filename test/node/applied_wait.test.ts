/**
 * The merge's wait across processes (applied_wait.ts): the answering side checks its
 * arguments and long-polls its replica; the asking side trusts nothing it is told.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReplicaStatus, Store } from '../../src/multiraft/index.js';
import {
  APPLIED_PATH,
  AppliedResponder,
  HttpMergeWaiter,
  checkAnswer,
} from '../../src/node/applied_wait.js';
import { sendError, sendJson } from '../../src/node/http_util.js';
import type { PeerDirectory } from '../../src/node/peers.js';
import { MergeWaitPeerError, MergeWaitTimeoutError } from '../../src/range/index.js';

/** A store with one replica (range 5) whose applied index the test moves. */
function fakeStore(nodeId: number): { store: Store; applied: { value: number } } {
  const applied = { value: 3 };
  const store = {
    nodeId,
    readStatus(rangeId: number, out: ReplicaStatus): boolean {
      if (rangeId !== 5) return false;
      out.applied = applied.value;
      return true;
    },
  } as unknown as Store;
  return { store, applied };
}

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  servers = [];
});

/** Serves `handle` on a free port; returns `HOST:PORT`. */
async function serve(handle: (url: URL) => Promise<unknown>): Promise<string> {
  const server = createServer((req, res) => {
    handle(new URL(req.url!, 'http://x')).then((body) => sendJson(res, 200, body),
      (error: unknown) => sendError(res, error));
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const directory = (http: Record<number, string>): PeerDirectory =>
  ({ httpOf: (id: number) => http[id] ?? null }) as unknown as PeerDirectory;
const url = (q: string): URL => new URL(`http://x${APPLIED_PATH}?${q}`);

describe('AppliedResponder', () => {
  it('refuses bad arguments before it reads anything', async () => {
    const r = new AppliedResponder(fakeStore(2).store);
    for (const q of ['', 'range=5', 'range=5&index=1', 'range=0&index=1&wait_ms=0',
      'range=5&index=0&wait_ms=0', 'range=5&index=1.5&wait_ms=0', 'range=x&index=1&wait_ms=0',
      'range=5&index=1&wait_ms=999999', 'range=5&index=1&wait_ms=-1',
      `range=5&index=${2 ** 60}&wait_ms=0`]) {
      await expect(r.answer(url(q)), q).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' });
    }
    expect(r.waitsOpen).toBe(0);
  });

  it('answers from its replica: at once when applied, after the wait when not', async () => {
    const { store, applied } = fakeStore(2);
    const r = new AppliedResponder(store);
    expect(await r.answer(url('range=5&index=3&wait_ms=5000')))
      .toEqual({ nodeId: 2, rangeId: 5, appliedIndex: 3, present: true });
    expect(await r.answer(url('range=5&index=9&wait_ms=0')))
      .toEqual({ nodeId: 2, rangeId: 5, appliedIndex: 3, present: true });
    expect(await r.answer(url('range=6&index=1&wait_ms=0')))
      .toEqual({ nodeId: 2, rangeId: 6, appliedIndex: 0, present: false });
    const waiting = r.answer(url('range=5&index=4&wait_ms=5000'));
    expect(r.waitsOpen).toBe(1);
    applied.value = 4;
    expect((await waiting).appliedIndex).toBe(4);
    expect(r.waitsOpen).toBe(0);
  });
});

describe('HttpMergeWaiter', () => {
  it('resolves once the peer\'s replica applied the index', async () => {
    const { store, applied } = fakeStore(2);
    const r = new AppliedResponder(store);
    let asked = 0;
    const http = await serve((u) => {
      asked++;
      if (asked === 2) applied.value = 8;
      return r.answer(u);
    });
    const w = new HttpMergeWaiter({ peers: directory({ 2: http }), pollMs: 0, retryMs: 10 });
    await w.waitApplied(2, 5, 8);
    expect(asked).toBeGreaterThanOrEqual(2);
  });

  it('times out with a typed error while the replica stays behind, or the peer is down',
    async () => {
      const r = new AppliedResponder(fakeStore(2).store);
      const http = await serve((u) => r.answer(u));
      const w = new HttpMergeWaiter({ peers: directory({ 2: http, 3: '127.0.0.1:1' }),
        timeoutMs: 300, pollMs: 50, retryMs: 20 });
      const behind = await w.waitApplied(2, 5, 9).catch((e: unknown) => e);
      expect(behind).toBeInstanceOf(MergeWaitTimeoutError);
      expect(behind).toMatchObject({ code: 'ERR_MERGE_WAIT_TIMEOUT', appliedIndex: 3 });
      const down = await w.waitApplied(3, 5, 1).catch((e: unknown) => e);
      expect(down).toMatchObject({ code: 'ERR_MERGE_WAIT_TIMEOUT', appliedIndex: 0 });
    });

  it('trusts nothing: an unknown peer, another node\'s answer, a malformed one', async () => {
    const other = new AppliedResponder(fakeStore(7).store);
    const liar = await serve((u) => other.answer(u));
    const junk = await serve(() => Promise.resolve({ nodeId: 2, rangeId: 5,
      appliedIndex: -1, present: true }));
    const w = new HttpMergeWaiter({ peers: directory({ 2: liar, 4: junk }), timeoutMs: 2000 });
    await expect(w.waitApplied(9, 5, 1)).rejects.toBeInstanceOf(MergeWaitPeerError);
    await expect(w.waitApplied(2, 5, 1)).rejects.toMatchObject({ code: 'ERR_MERGE_WAIT_PEER' });
    await expect(w.waitApplied(4, 5, 1)).rejects.toMatchObject({ code: 'ERR_MERGE_WAIT_PEER' });
  });

  it('checkAnswer accepts only a well-formed answer', () => {
    expect(checkAnswer({ nodeId: 1, rangeId: 2, appliedIndex: 0, present: false }))
      .not.toBeNull();
    for (const bad of [null, 7, 'x', {}, { nodeId: 1, rangeId: 2, appliedIndex: 3 },
      { nodeId: 1, rangeId: 2, appliedIndex: 3, present: false },
      { nodeId: 0, rangeId: 2, appliedIndex: 3, present: true },
      { nodeId: 1, rangeId: 2, appliedIndex: 1.5, present: true }]) {
      expect(checkAnswer(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});
