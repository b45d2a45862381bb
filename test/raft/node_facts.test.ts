/** RawNode's narrow accessors: what a host reads without the state machine. */
import { describe, expect, it } from 'vitest';
import { newNodeFacts, newPeerFacts } from '../../src/raft/node_facts.js';
import { SeededRandom } from '../../src/raft/rand.js';
import { StateType } from '../../src/raft/raft_state.js';
import { RawNode } from '../../src/raft/rawnode.js';
import { MemoryStorage } from '../../src/raft/storage.js';

function newNode(voters: number[], storage = new MemoryStorage()): RawNode {
  storage.snap.metadata.confState = {
    voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false,
  };
  return new RawNode({ id: 1, storage, electionTick: 10, heartbeatTick: 2,
    random: new SeededRandom(1) });
}

/** Handles every Ready of a single-voter node (persist, apply, advance). */
function drain(node: RawNode, storage: MemoryStorage): void {
  while (node.hasReady()) {
    const rd = node.ready();
    storage.append(rd.entries);
    if (rd.hardState.term !== 0) storage.setHardState(rd.hardState);
    node.advance();
  }
}

describe('RawNode accessors', () => {
  it('tick() reports whether the tick acted', () => {
    const node = newNode([1, 2, 3]);
    const idle = node.ticksWithoutAction();
    expect(idle).toBeGreaterThan(0);
    for (let i = 0; i < idle; i++) expect(node.tick()).toBe(false);
    // Ticks until the randomized timeout: the election starts on one of them.
    let acted = false;
    for (let i = 0; i < 20 && !acted; i++) acted = node.tick();
    expect(acted).toBe(true);
    expect(node.raftState).toBe(StateType.StateCandidate);
  });

  it('fills caller-owned facts and peers', () => {
    const storage = new MemoryStorage();
    const node = newNode([1], storage);
    node.campaign();
    drain(node, storage);
    expect(node.raftState).toBe(StateType.StateLeader);
    const facts = newNodeFacts();
    node.readFacts(facts);
    const status = node.basicStatus();
    expect(facts).toMatchObject({
      raftState: StateType.StateLeader, term: status.hardState.term, lead: 1,
      vote: status.hardState.vote, commit: status.hardState.commit, applied: status.applied,
      peerCount: 1,
    });
    expect([node.lead, node.term]).toEqual([1, facts.term]);
    const peers = newPeerFacts();
    node.readPeers(peers);
    expect(peers.count).toBe(1);
    expect(peers.ids[0]).toBe(1);
    expect(peers.match[0]).toBe(facts.lastIndex);
    expect(node.canCampaign()).toBe(true);
  });
});
