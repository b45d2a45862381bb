/**
 * `add-nodes <n> [voters=(...)] [learners=(...)] [index=i] [content=s] [inflight=n]
 * [async-storage-writes=b] [prevote=b] [checkquorum=b] [max-committed-size-per-ready=n]
 * [disable-conf-change-validation=b] [step-down-on-removal=b] [read-only=safe|lease-based]`
 *
 * Adds n nodes with consecutive ids. With a configuration or an index, each node starts from a
 * snapshot at that index (term 1) holding it, as if bootstrapped; otherwise it starts empty.
 */
import { Config, ReadOnlyOption, type ConfigOptions } from '../../../src/raft/config.js';
import { emptySnapshot, type Snapshot } from '../../../src/raft/raftpb.js';
import { RawNode } from '../../../src/raft/rawnode.js';
import { MemoryStorage } from '../../../src/raft/storage.js';
import { DirectiveError, parseBool, parseInt10, parseUint, type CmdArg } from '../datadriven.js';
import { HarnessStorage, raftConfigStub, type InteractionEnv } from './env.js';
import { firstAsInt, raftCall, type CommandResult } from './handler.js';

type NodeOptions = Omit<ConfigOptions, 'id' | 'storage' | 'random' | 'logger'>;

/** Applies one `key=value` of the directive to the snapshot or the config template. */
function applyArg(key: string, val: string, snap: Snapshot, cfg: NodeOptions): CommandResult {
  const cs = snap.metadata.confState;
  switch (key) {
    case 'voters':
      cs.voters.push(parseUint(val, 'voter'));
      break;
    case 'learners':
      cs.learners.push(parseUint(val, 'learner'));
      break;
    case 'inflight':
      cfg.maxInflightMsgs = parseInt10(val, 'inflight');
      break;
    case 'index':
      snap.metadata.index = parseUint(val, 'index');
      cfg.applied = snap.metadata.index;
      break;
    case 'content':
      snap.data = new TextEncoder().encode(val);
      break;
    case 'async-storage-writes':
      cfg.asyncStorageWrites = parseBool(val, key);
      break;
    case 'prevote':
      cfg.preVote = parseBool(val, key);
      break;
    case 'checkquorum':
      cfg.checkQuorum = parseBool(val, key);
      break;
    case 'max-committed-size-per-ready':
      cfg.maxCommittedSizePerReady = parseUint(val, key);
      break;
    case 'disable-conf-change-validation':
      cfg.disableConfChangeValidation = parseBool(val, key);
      break;
    case 'step-down-on-removal':
      cfg.stepDownOnRemoval = parseBool(val, key);
      break;
    case 'read-only':
      if (val === 'safe') cfg.readOnlyOption = ReadOnlyOption.ReadOnlySafe;
      else if (val === 'lease-based') cfg.readOnlyOption = ReadOnlyOption.ReadOnlyLeaseBased;
      else return new Error(`invalid read-only option ${JSON.stringify(val)}`);
      break;
    default:
      throw new DirectiveError(`add-nodes: unknown argument ${key}`);
  }
  return null;
}

export function handleAddNodes(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const n = firstAsInt(args);
  const snap = emptySnapshot();
  const cfg: NodeOptions = raftConfigStub();
  for (const arg of args.slice(1)) {
    for (const val of arg.vals) {
      const err = applyArg(arg.key, val, snap, cfg);
      if (err !== null) return err;
    }
  }
  return addNodes(env, n, cfg, snap);
}

function isEmptyBootstrap(snap: Snapshot): boolean {
  const cs = snap.metadata.confState;
  return (
    snap.metadata.index === 0 &&
    snap.metadata.term === 0 &&
    snap.data.length === 0 &&
    cs.voters.length === 0 &&
    cs.learners.length === 0
  );
}

/**
 * Adds `n` nodes initialized from `snap` (which may be empty), using `cfg` as the template
 * (etcd's `AddNodes`).
 */
export function addNodes(
  env: InteractionEnv,
  n: number,
  cfg: NodeOptions,
  snap: Snapshot,
): CommandResult {
  const bootstrap = !isEmptyBootstrap(snap);
  for (let i = 0; i < n; i++) {
    const id = env.nodes.length + 1;
    const storage = new HarnessStorage(new MemoryStorage(), () => {
      const history = env.node(id - 1).history;
      return history[history.length - 1]!;
    });
    if (bootstrap) {
      // MemoryStorage cannot start from a snapshot at index 1; nothing is lost by requiring 2.
      if (snap.metadata.index <= 1) {
        return new Error('index must be specified as > 1 due to bootstrap');
      }
      snap.metadata.term = 1;
      const err = storage.applySnapshot(snap);
      if (err !== null) return err;
      const fi = storage.firstIndex();
      const exp = snap.metadata.index + 1;
      if (fi !== exp) return new Error(`failed to establish first index ${exp}; got ${fi}`);
    }
    const config = new Config({ ...cfg, id, storage, logger: env.output, random: env.random });
    let rawNode: RawNode | undefined;
    const err = raftCall(() => {
      rawNode = new RawNode(config);
    });
    if (err !== null) return err;
    env.nodes.push({
      rawNode: rawNode!,
      storage,
      config,
      appendWork: [],
      applyWork: [],
      history: [snap],
    });
  }
  return null;
}
