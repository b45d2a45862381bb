/**
 * The interaction environment of etcd's rafttest, ported: a group of RawNodes with in-memory
 * storage, the messages in flight between them, and one output buffer that is also every
 * node's logger. Each corpus file in testdata/ drives one environment through the commands of
 * handler.ts; every command lives in its own handler_<command>.ts file, as in etcd.
 */
import { Config, type ConfigOptions } from '../../../src/raft/config.js';
import type { StorageError } from '../../../src/raft/errors.js';
import type { Entry, HardState, Message, Snapshot } from '../../../src/raft/raftpb.js';
import { SeededRandom } from '../../../src/raft/rand.js';
import { RawNode } from '../../../src/raft/rawnode.js';
import { MemoryStorage, type InitialState, type Storage } from '../../../src/raft/storage.js';
import { RedirectLogger } from './logger.js';

/** The seed of the election-timeout randomness; files that depend on it pin the timeout. */
const RANDOM_SEED = 1;

/**
 * A MemoryStorage whose `snapshot()` answers with the node's latest applied state (etcd's
 * `snapOverrideStorage`), so that snapshots sent to followers carry what the harness's
 * "appender" state machine has applied.
 */
export class HarnessStorage implements Storage {
  constructor(
    readonly inner: MemoryStorage,
    private readonly latestSnapshot: () => Snapshot,
  ) {}

  initialState(): InitialState {
    return this.inner.initialState();
  }
  entries(lo: number, hi: number, maxSize: number): Entry[] | StorageError {
    return this.inner.entries(lo, hi, maxSize);
  }
  term(i: number): number | StorageError {
    return this.inner.term(i);
  }
  lastIndex(): number {
    return this.inner.lastIndex();
  }
  firstIndex(): number {
    return this.inner.firstIndex();
  }
  snapshot(): Snapshot | StorageError {
    return this.latestSnapshot();
  }
  setHardState(hs: HardState): void {
    this.inner.setHardState(hs);
  }
  applySnapshot(snap: Snapshot): StorageError | null {
    return this.inner.applySnapshot(snap);
  }
  compact(newFirstIndex: number): StorageError | null {
    return this.inner.compact(newFirstIndex);
  }
  append(ents: readonly Entry[]): void {
    this.inner.append(ents);
  }
}

/** One member of the group. */
export interface InteractionNode {
  rawNode: RawNode;
  storage: HarnessStorage;
  config: Config;
  /** MsgStorageAppend messages waiting for the append thread (async storage writes). */
  appendWork: Message[];
  /** MsgStorageApply messages waiting for the apply thread (async storage writes). */
  applyWork: Message[];
  /** Applied states: the bootstrap snapshot, then one snapshot per applied entry. */
  history: Snapshot[];
}

/** The template every node's config starts from (etcd's `raftConfigStub`): no limits. */
export function raftConfigStub(): Omit<ConfigOptions, 'id' | 'storage' | 'random'> {
  return {
    electionTick: 3,
    heartbeatTick: 1,
    maxSizePerMsg: Number.POSITIVE_INFINITY,
    maxInflightMsgs: 2 ** 31 - 1,
  };
}

/** The state one corpus file's directives share. */
export class InteractionEnv {
  readonly nodes: InteractionNode[] = [];
  /** Messages in flight, in the order they were sent. */
  messages: Message[] = [];
  /** The output of the current directive; also every node's logger. */
  readonly output = new RedirectLogger();
  /** Election-timeout randomness shared by the nodes, seeded for reproducible runs. */
  readonly random = new SeededRandom(RANDOM_SEED);

  /** Runs `f`, indenting everything it writes by two spaces (etcd's `withIndent`). */
  withIndent(f: () => void): void {
    const captured = this.output.capture(f);
    if (captured === '') return;
    const lines = captured.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (const line of lines) this.output.write(`  ${line}\n`);
  }

  /** The node with 0-based index `idx`; a harness error when there is none. */
  node(idx: number): InteractionNode {
    const n = this.nodes[idx];
    if (n === undefined) {
      throw new RangeError(`node index ${idx} out of range [0, ${this.nodes.length})`);
    }
    return n;
  }
}
