/** Test doubles for the scheduler tests: a recording processor and a fake clock. */
import { toGroupId } from '../../src/scheduler/index.js';
import type { GroupId, GroupProcessor } from '../../src/scheduler/index.js';

/** One processor call, as `"<kind>:<id>"`, e.g. `"msg:3"`, `"tick:3"`, `"ready:3"`. */
export type Call = string;

/** Hooks a test can set to act inside a group's turn (e.g. enqueue more work). */
export interface RecorderHooks {
  onMessages?: (id: GroupId) => boolean;
  onTick?: (id: GroupId) => boolean;
  onReady?: (id: GroupId) => void;
}

/** A `GroupProcessor` that records every call in order. */
export class Recorder implements GroupProcessor {
  readonly calls: Call[] = [];
  hooks: RecorderHooks = {};

  processMessages(id: GroupId): boolean {
    this.calls.push(`msg:${id}`);
    return this.hooks.onMessages?.(id) ?? false;
  }

  processTick(id: GroupId): boolean {
    this.calls.push(`tick:${id}`);
    return this.hooks.onTick?.(id) ?? false;
  }

  processReady(id: GroupId): void {
    this.calls.push(`ready:${id}`);
    this.hooks.onReady?.(id);
  }

  /** The ids of the `processMessages` calls, in order. */
  messageIds(): number[] {
    return this.calls.filter((c) => c.startsWith('msg:')).map((c) => Number(c.slice(4)));
  }

  clear(): void {
    this.calls.length = 0;
  }
}

/** A manual clock in milliseconds. */
export class FakeClock {
  nowMs = 0;
  readonly read = (): number => this.nowMs;
}

/** Shorthand for `toGroupId`. */
export const g = (n: number): GroupId => toGroupId(n);
