/**
 * Checks of the store API's arguments, made before anything is touched: a refused call
 * throws a typed error and leaves the store exactly as it was. The callers are other layers
 * and applications, so a bad argument is their mistake but not a reason to corrupt a range or
 * kill the process; these are typed errors, not assertions.
 *
 * - Range ids are the group ids on the wire: integers in [1, 2^32) (0 is the liveness group).
 * - A range configuration: voters and learners are arrays of node ids (safe integers in
 *   [1, NODE_ID_MAX]), no id twice, none both voter and learner, at least one voter, this
 *   store's node among them, at most `GROUP_PEERS_MAX` in all. The store keeps sorted copies,
 *   so a caller's later change of its arrays changes nothing.
 * - A payload is a `Uint8Array` (a Node `Buffer` is one): not a string, an array, an
 *   `ArrayBuffer`, a `DataView` or a typed array of wider elements, whose bytes would differ
 *   between the leader (which keeps the object) and the followers (which get its encoding).
 *   It is copied, so a caller's later writes cannot change a proposed entry, and it is at
 *   most the store's `proposalBytesMax` (the transport's frame limit less its framing).
 * - A membership change (`ConfChangeV2`): a known transition, at most `GROUP_PEERS_MAX`
 *   changes of known types, each naming a Raft node id (never 0, which Raft reads as "skip"),
 *   no node twice, a context of bytes within `CONTEXT_BYTES_MAX`. A copy is returned.
 */
import { RANGE_ID_LIMIT, assert } from '../util/index.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EMPTY_BYTES,
  isNodeId,
  type ConfChangeV2,
} from '../raft/index.js';
import { CONTEXT_BYTES_MAX, GROUP_PEERS_MAX, NODE_ID_MAX } from './message_check.js';
import { InvalidConfChangeError } from './membership_errors.js';
import {
  InvalidPayloadError,
  InvalidRangeConfigError,
  InvalidRangeIdError,
  PayloadTooLargeError,
} from './input_errors.js';

/** A range's configuration as the store keeps it: sorted, distinct, checked copies. */
export interface CheckedRangeConfig {
  voters: number[];
  learners: number[];
}

/** @throws InvalidRangeIdError unless `rangeId` is an integer in [1, 2^32). */
export function checkRangeId(rangeId: unknown): number {
  if (typeof rangeId !== 'number' || !Number.isInteger(rangeId) || rangeId < 1 ||
    rangeId >= RANGE_ID_LIMIT) throw new InvalidRangeIdError(rangeId);
  return rangeId;
}

/**
 * Checks a range configuration for the store of `nodeId` and returns sorted copies.
 * @throws InvalidRangeConfigError naming the first rule broken.
 */
export function checkRangeConfig(nodeId: number, range: unknown): CheckedRangeConfig {
  assert(Number.isSafeInteger(nodeId) && nodeId >= 1, 'the store has a node id');
  if (typeof range !== 'object' || range === null) {
    throw new InvalidRangeConfigError('the range configuration is not an object');
  }
  const raw = range as { voters?: unknown; learners?: unknown };
  const voters = idList(raw.voters, 'voters');
  const learners = raw.learners === undefined ? [] : idList(raw.learners, 'learners');
  if (voters.length === 0) throw new InvalidRangeConfigError('a range needs a voter');
  if (voters.length + learners.length > GROUP_PEERS_MAX) {
    throw new InvalidRangeConfigError(`more than ${GROUP_PEERS_MAX} voters and learners`);
  }
  for (const id of learners) {
    if (voters.includes(id)) throw new InvalidRangeConfigError(`${id} is voter and learner`);
  }
  if (!voters.includes(nodeId) && !learners.includes(nodeId)) {
    throw new InvalidRangeConfigError(`this store's node ${nodeId} is not in the range`);
  }
  assert(voters.length > 0 && voters.length + learners.length <= GROUP_PEERS_MAX, 'checked');
  return { voters, learners };
}

/** A sorted copy of a list of distinct node ids. */
function idList(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) throw new InvalidRangeConfigError(`${what} is not an array`);
  if (value.length > GROUP_PEERS_MAX) {
    throw new InvalidRangeConfigError(`more than ${GROUP_PEERS_MAX} ${what}`);
  }
  const ids: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const id: unknown = value[i];
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1 || id > NODE_ID_MAX) {
      throw new InvalidRangeConfigError(`${what}[${i}] is not a node id: ${String(id)}`);
    }
    if (ids.includes(id)) throw new InvalidRangeConfigError(`${what} name ${id} twice`);
    ids.push(id);
  }
  return ids.sort((a, b) => a - b);
}

/**
 * The brand check of typed arrays: `%TypedArray%.prototype[@@toStringTag]` is a getter that
 * returns the element type's name for a genuine typed array and undefined for anything else.
 * Unlike `instanceof`, it cannot be fooled by a prototype swap and works across realms.
 */
const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype) as object, Symbol.toStringTag)!.get!;

/**
 * Checks a proposal's payload and returns a private copy of its bytes.
 * @throws InvalidPayloadError unless `data` is a Uint8Array; PayloadTooLargeError above
 *   `bytesMax` bytes.
 */
export function checkPayload(data: unknown, bytesMax: number): Uint8Array {
  assert(Number.isSafeInteger(bytesMax) && bytesMax >= 0, 'payload limit');
  if (typedArrayTag.call(data) !== 'Uint8Array') throw new InvalidPayloadError(describe(data));
  const bytes = data as Uint8Array;
  if (bytes.length > bytesMax) throw new PayloadTooLargeError(bytes.length, bytesMax);
  if (bytes.length === 0) return EMPTY_BYTES;
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  assert(copy.length === bytes.length, 'payload copied whole');
  return copy;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const tag = typedArrayTag.call(value) as string | undefined;
  if (tag !== undefined) return tag;
  return Object.prototype.toString.call(value).slice(8, -1);
}

const TRANSITIONS: readonly number[] = Object.values(ConfChangeTransition);
const CHANGE_TYPES: readonly number[] = Object.values(ConfChangeType);

/**
 * Checks a membership change and returns a copy of it.
 * @throws InvalidConfChangeError naming the first rule broken.
 */
export function checkConfChangeV2(change: unknown): ConfChangeV2 {
  if (typeof change !== 'object' || change === null) {
    throw new InvalidConfChangeError('the change is not an object');
  }
  const raw = change as { transition?: unknown; changes?: unknown; context?: unknown };
  const transition = raw.transition ?? ConfChangeTransition.ConfChangeTransitionAuto;
  if (typeof transition !== 'number' || !TRANSITIONS.includes(transition)) {
    throw new InvalidConfChangeError(`unknown transition ${String(transition)}`);
  }
  if (!Array.isArray(raw.changes) || raw.changes.length > GROUP_PEERS_MAX) {
    throw new InvalidConfChangeError(`changes is not an array of at most ${GROUP_PEERS_MAX}`);
  }
  const changes: { type: ConfChangeType; nodeId: number }[] = [];
  for (let i = 0; i < raw.changes.length; i++) {
    const c: unknown = raw.changes[i];
    const { type, nodeId } = (typeof c === 'object' && c !== null ? c : {}) as
      { type?: unknown; nodeId?: unknown };
    if (typeof type !== 'number' || !CHANGE_TYPES.includes(type)) {
      throw new InvalidConfChangeError(`changes[${i}] has no known type`);
    }
    if (typeof nodeId !== 'number' || !isNodeId(nodeId)) {
      throw new InvalidConfChangeError(`changes[${i}] names no node id: ${String(nodeId)}`);
    }
    if (changes.some((d) => d.nodeId === nodeId)) {
      throw new InvalidConfChangeError(`node ${nodeId} is changed twice`);
    }
    changes.push({ type: type as ConfChangeType, nodeId });
  }
  const context = raw.context === undefined ? EMPTY_BYTES
    : checkPayload(raw.context, CONTEXT_BYTES_MAX);
  assert(changes.length === raw.changes.length, 'every change checked');
  return { transition: transition as ConfChangeTransition, changes, context };
}
