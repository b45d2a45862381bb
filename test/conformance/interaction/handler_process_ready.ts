/**
 * `process-ready <id>...`: handles one Ready of each node: prints it, persists its entries,
 * HardState and snapshot, applies its committed entries, queues its messages, and advances
 * (with async storage writes, the storage work goes to the append and apply threads instead).
 */
import { decodeConfChange, decodeConfChangeV2 } from '../../../src/raft/confchange_codec.js';
import { describeReady } from '../../../src/raft/describe.js';
import {
  EntryType,
  MessageType,
  isEmptyHardState,
  isEmptySnapshot,
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from '../../../src/raft/raftpb.js';
import { isLocalMsgTarget } from '../../../src/raft/util.js';
import { DirectiveError, type CmdArg } from '../datadriven.js';
import type { InteractionEnv, InteractionNode } from './env.js';
import { nodeIdxs, type CommandResult } from './handler.js';
import { FlotillaError } from '../../../src/util/errors.js';

export function handleProcessReady(env: InteractionEnv, args: CmdArg[]): CommandResult {
  const idxs = nodeIdxs(args);
  for (const idx of idxs) {
    let err: CommandResult = null;
    if (idxs.length > 1) {
      env.output.write(`> ${idx + 1} handling Ready\n`);
      env.withIndent(() => {
        err = processReady(env, idx);
      });
    } else {
      err = processReady(env, idx);
    }
    if (err !== null) return err;
  }
  return null;
}

/** Handles one Ready of node `idx` (etcd's `ProcessReady`). */
export function processReady(env: InteractionEnv, idx: number): CommandResult {
  const n = env.node(idx);
  const rd = n.rawNode.ready();
  env.output.write(describeReady(rd));
  const sync = !n.config.asyncStorageWrites;
  if (sync) {
    const err = processAppend(n, rd.hardState, rd.entries, rd.snapshot);
    if (err !== null) return err;
    const applyErr = processApply(n, rd.committedEntries);
    if (applyErr !== null) return applyErr;
  }
  for (const m of rd.messages) {
    if (!isLocalMsgTarget(m.to)) {
      env.messages.push(m);
      continue;
    }
    if (sync) throw new DirectiveError('unexpected local msg target');
    if (m.type === MessageType.MsgStorageAppend) n.appendWork.push(m);
    else if (m.type === MessageType.MsgStorageApply) n.applyWork.push(m);
    else throw new DirectiveError(`unexpected message type ${m.type}`);
  }
  if (sync) n.rawNode.advance();
  return null;
}

/** Persists a HardState, a snapshot or entries (etcd's `processAppend`). */
export function processAppend(
  n: InteractionNode,
  st: HardState,
  ents: readonly Entry[],
  snap: Snapshot | null,
): CommandResult {
  const s = n.storage;
  if (!isEmptyHardState(st)) s.setHardState(st);
  if (snap !== null && !isEmptySnapshot(snap)) {
    if (ents.length > 0) return new Error("can't apply snapshot and entries at the same time");
    return s.applySnapshot(snap);
  }
  s.append(ents);
  return null;
}

/**
 * Applies committed entries to the node's "appender" state machine: each entry's payload (or
 * conf change context) is appended to the last state, recorded as a snapshot in the history;
 * conf changes are applied to the RawNode (etcd's `processApply`).
 */
export function processApply(n: InteractionNode, ents: readonly Entry[]): CommandResult {
  for (const ent of ents) {
    let update: Uint8Array;
    let cs: ConfState | null = null;
    if (ent.type === EntryType.EntryConfChange || ent.type === EntryType.EntryConfChangeV2) {
      const cc = decodeEntryConfChange(ent);
      if (cc instanceof Error) return cc;
      update = cc.context;
      cs = n.rawNode.applyConfChange(cc);
    } else {
      update = ent.data;
    }
    const last = n.history[n.history.length - 1]!;
    const data = new Uint8Array(last.data.length + update.length);
    data.set(last.data, 0);
    data.set(update, last.data.length);
    n.history.push({
      data,
      metadata: { index: ent.index, term: ent.term, confState: cs ?? last.metadata.confState },
    });
  }
  return null;
}

/** Decodes a conf change entry; a decoding failure is returned, as etcd returns it. */
function decodeEntryConfChange(ent: Entry): ConfChange | ConfChangeV2 | Error {
  try {
    return ent.type === EntryType.EntryConfChange
      ? decodeConfChange(ent.data)
      : decodeConfChangeV2(ent.data);
  } catch (err) {
    if (err instanceof FlotillaError) return err;
    throw err;
  }
}
