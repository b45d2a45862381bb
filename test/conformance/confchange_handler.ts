/**
 * The handler of confchange/testdata, as etcd's confchange/datadriven_test.go runs it: one
 * progress tracker per file (MaxInflight 10, no byte limit) and a last index that grows by one
 * with every directive. Commands:
 *
 * - `simple` applies the changes of its input (`v1 l2 r3 u4`: voter, learner, remove, update)
 *   without joint consensus;
 * - `enter-joint [autoleave=true]` enters a joint configuration with them;
 * - `leave-joint` leaves it.
 *
 * Output: the configuration and the progress of every peer, or the error text.
 */
import { Changer, ConfChangeError, type ChangeResult } from '../../src/raft/confchange/index.js';
import { ConfChangeType, type ConfChangeSingle } from '../../src/raft/raftpb.js';
import { ProgressTracker } from '../../src/raft/tracker/index.js';
import { DirectiveError, parseBool, scanArg, type Directive } from './datadriven.js';
import type { DirectiveHandler } from './runner.js';

/** Parses the input tokens; returns the error text etcd's harness returns for a bad one. */
function parseChanges(input: string): ConfChangeSingle[] | string {
  const toks = input.trim() === '' ? [] : input.trim().split(' ');
  const ccs: ConfChangeSingle[] = [];
  for (const tok of toks) {
    if (tok.length < 2) return `unknown token ${tok}`;
    let type: ConfChangeSingle['type'];
    switch (tok[0]) {
      case 'v':
        type = ConfChangeType.ConfChangeAddNode;
        break;
      case 'l':
        type = ConfChangeType.ConfChangeAddLearnerNode;
        break;
      case 'r':
        type = ConfChangeType.ConfChangeRemoveNode;
        break;
      case 'u':
        type = ConfChangeType.ConfChangeUpdateNode;
        break;
      default:
        return `unknown input: ${tok}`;
    }
    const digits = tok.slice(1);
    if (!/^[0-9]+$/.test(digits) || !Number.isSafeInteger(Number(digits))) {
      return `strconv.ParseUint: parsing ${JSON.stringify(digits)}: invalid syntax`;
    }
    ccs.push({ type, nodeId: Number(digits) });
  }
  return ccs;
}

class ConfChangeHandler implements DirectiveHandler {
  private readonly tracker = new ProgressTracker(10, 0);
  /** Incremented after every directive, as etcd's harness does. */
  private lastIndex = 0;

  handle(d: Directive): string {
    try {
      return this.run(d);
    } finally {
      this.lastIndex++;
    }
  }

  private run(d: Directive): string {
    const ccs = parseChanges(d.input);
    if (typeof ccs === 'string') return ccs;
    const changer = new Changer(this.tracker, this.lastIndex);
    let result: ChangeResult;
    try {
      result = this.apply(d, changer, ccs);
    } catch (err) {
      if (err instanceof ConfChangeError) return `${err.message}\n`;
      throw err;
    }
    this.tracker.config = result.config;
    this.tracker.progress = result.progress;
    return `${this.tracker.config.toString()}\n${this.tracker.progress.toString()}`;
  }

  private apply(d: Directive, changer: Changer, ccs: ConfChangeSingle[]): ChangeResult {
    switch (d.cmd) {
      case 'simple':
        return changer.simple(...ccs);
      case 'enter-joint': {
        const autoLeave =
          d.args.length > 0 ? parseBool(scanArg(d.args, 'autoleave'), 'autoleave') : false;
        return changer.enterJoint(autoLeave, ...ccs);
      }
      case 'leave-joint':
        if (ccs.length > 0) throw new ConfChangeError('this command takes no input');
        return changer.leaveJoint();
      default:
        throw new DirectiveError(`unknown command: ${d.cmd}`);
    }
  }
}

/** A fresh confchange handler with its own tracker. */
export function createConfChangeHandler(): DirectiveHandler {
  return new ConfChangeHandler();
}
