/** Fixtures shared by the tests of the raft log and its unstable part. */
import { LogLevel, RaftPanicError, type RaftLogger } from '../../src/raft/logger.js';
import {
  EMPTY_BYTES,
  EntryType,
  emptyConfState,
  type Entry,
  type Snapshot,
} from '../../src/raft/raftpb.js';

/** Entries from index `first` on, one per term given. */
export function ents(first: number, ...terms: number[]): Entry[] {
  return terms.map((term, i) => ({
    term, index: first + i, type: EntryType.EntryNormal, data: EMPTY_BYTES,
  }));
}

/** A snapshot without data or configuration at `index`, `term`. */
export function snap(index: number, term: number): Snapshot {
  return { data: EMPTY_BYTES, metadata: { confState: emptyConfState(), index, term } };
}

/** A logger that records `LEVEL text` lines and throws on fatal. */
export function captureLogger(): RaftLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    level: LogLevel.Debug,
    lines,
    debug: (t) => void lines.push(`DEBUG ${t}`),
    info: (t) => void lines.push(`INFO ${t}`),
    warn: (t) => void lines.push(`WARN ${t}`),
    error: (t) => void lines.push(`ERROR ${t}`),
    fatal: (t): never => {
      lines.push(`FATAL ${t}`);
      throw new RaftPanicError(t);
    },
  };
}
