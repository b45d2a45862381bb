/**
 * The one source of randomness the Raft core uses (randomized election timeouts). It is
 * injected, so a whole cluster replays exactly from one seed, and shared by every group of a
 * process, so a group carries no generator state of its own. The interface and the seeded
 * generator live in src/util/random.ts, shared with every layer.
 */
export { SeededRandom, type RandomSource } from '../util/index.js';
