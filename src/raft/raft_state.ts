/**
 * Small shared vocabulary of the Raft state machine (roles, campaign kinds, formatting), kept
 * apart from `raft.ts` so that the per-role step files can import it without a cycle.
 */

import { LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD, NODE_ID_MAX } from './config.js';

/** The role of a node, with etcd's numbering (`StateType`). */
export const StateType = {
  StateFollower: 0,
  StateCandidate: 1,
  StateLeader: 2,
  StatePreCandidate: 3,
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];

/** Names of the roles, indexed by number, as etcd prints them. */
export const stateTypeNames: readonly string[] = [
  'StateFollower',
  'StateCandidate',
  'StateLeader',
  'StatePreCandidate',
];

/** Why a node campaigns (etcd's `CampaignType`). */
export const CampaignType = {
  /** The first phase of an election when PreVote is on. */
  PreElection: 0,
  /** A normal election (or the second phase with PreVote). */
  Election: 1,
  /** An election ordered by the leader (MsgTimeoutNow): ignores leases, skips PreVote. */
  Transfer: 2,
} as const;
export type CampaignType = (typeof CampaignType)[keyof typeof CampaignType];

/** No node (etcd's `None`): no leader, no vote. */
export const NONE = 0;

function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The context a transfer campaign attaches to its votes (etcd's `[]byte(campaignTransfer)`). */
export const CAMPAIGN_TRANSFER_CONTEXT: Uint8Array = asciiBytes('CampaignTransfer');

/** Byte-wise equality of two arrays. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Formats a node id as etcd's `%x` does (the local threads' ids as etcd's uint64 ones). */
export function hex(id: number): string {
  if (id > NODE_ID_MAX) {
    if (id === LOCAL_APPEND_THREAD) return 'ffffffffffffffff';
    if (id === LOCAL_APPLY_THREAD) return 'fffffffffffffffe';
  }
  return id.toString(16);
}
