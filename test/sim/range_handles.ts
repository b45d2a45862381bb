/**
 * What the range simulation's clients and merge coordinators hold of a node: a handle on
 * its current incarnation, the way a real client holds a connection to an address.
 *
 * A crash ends an incarnation: everything a caller awaits on it (a request, a wait for
 * application) fails with `RangeUnavailableError`, as an RPC on a broken connection does,
 * and the caller retries (the client with the same command id, so a request that applied
 * still applies once). While the node is down its requests fail at once and its data is not
 * readable (no meta rows, no local descriptors); a restart seats a new incarnation. A merge
 * coordinator's wait for a peer's application (the node layer's RPC) outlives crashes: it
 * asks the next incarnation, which replays its log up to the freeze.
 */
import type { KvOp, KvStore, ProposalResult, RangeDescriptor, RangeNode } from
  '../../src/range/index.js';
import { MemoryKv, RangeUnavailableError } from '../../src/range/index.js';

/** One incarnation of a node: its range node, and the promise its crash rejects. */
interface Incarnation {
  node: RangeNode;
  crashed: Promise<never>;
  crash: (error: Error) => void;
}

const NO_DATA: KvStore = new MemoryKv();

/** See the file header. The simulation owns incarnations (`seat`, `crash`). */
export class NodeHandle {
  private current: Incarnation | null = null;

  /**
   * @param raceCrashes whether waits end at a crash (false: calls go straight to the node,
   *   adding no promise turns: the classic layout, which never crashes, replays exactly)
   */
  constructor(readonly nodeId: number, private readonly sleep: (ticks: number) => Promise<void>,
    private readonly raceCrashes = true) {}

  /** The running incarnation's range node, if up. */
  get node(): RangeNode | null {
    return this.current?.node ?? null;
  }

  /** Seats a new incarnation (a start or restart). */
  seat(node: RangeNode): void {
    let crash: (error: Error) => void = () => undefined;
    const crashed = new Promise<never>((_, reject) => {
      crash = reject;
    });
    // Nobody may be awaiting it: an unobserved rejection is no failure here.
    crashed.catch(() => undefined);
    this.current = { node, crashed, crash };
  }

  /** Ends the incarnation: every wait on it fails. */
  crash(): void {
    const c = this.current;
    if (c === null) return;
    this.current = null;
    c.crash(new RangeUnavailableError(0, `node ${this.nodeId} crashed`));
  }

  /** The node's data (nothing while it is down). */
  get kv(): KvStore {
    return this.current?.node.kv ?? NO_DATA;
  }

  localRangeFor(key: Uint8Array): RangeDescriptor | undefined {
    return this.current?.node.localRangeFor(key);
  }

  execute(ops: KvOp[], options: { rangeId?: number; id?: Uint8Array } = {}):
    Promise<ProposalResult> {
    const c = this.current;
    if (c === null) {
      return Promise.reject(new RangeUnavailableError(options.rangeId ?? 0,
        `node ${this.nodeId} is down`));
    }
    const work = c.node.execute(ops, options);
    return this.raceCrashes ? Promise.race([work, c.crashed]) : work;
  }

  /** Resolves once the node's replica applied `index`, across its crashes. */
  async waitApplied(rangeId: number, index: number): Promise<void> {
    for (;;) {
      const c = this.current;
      if (c === null) {
        await this.sleep(1);
        continue;
      }
      try {
        await Promise.race([c.node.waitApplied(rangeId, index), c.crashed]);
        return;
      } catch (error) {
        if (!(error instanceof RangeUnavailableError)) throw error;
      }
    }
  }

  /** Resolves or rejects as `work` does, or rejects when this incarnation crashes first. */
  untilCrash<T>(work: Promise<T>): Promise<T> {
    const c = this.current;
    return c === null || !this.raceCrashes ? work : Promise.race([work, c.crashed]);
  }
}

/** The handles as the range layer's types see them (they have what it uses of a node). */
export function asRangeNodes(handles: ReadonlyMap<number, NodeHandle>):
  ReadonlyMap<number, RangeNode> {
  return handles as unknown as ReadonlyMap<number, RangeNode>;
}
