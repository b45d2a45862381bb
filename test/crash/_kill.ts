/**
 * When the two crash drivers (crash.ts and store_crash.ts) kill their child: a delay after the
 * child is ready, started only once it has acknowledged enough writes, so a slow start on a
 * loaded machine does not turn a kill point into one with nothing to check.
 */

/** A kill point: `ms` after `ready` and the `acks`-th acknowledgement, whichever is later. */
export interface KillAt {
  ms: number;
  acks: number;
}

/** Arms `kill` once the child's lines have met `at`; call `ready()` and `acked()` per line. */
export function killArmer(at: KillAt, kill: () => void): { ready(): void; acked(): void } {
  let isReady = false;
  let acks = 0;
  let armed = false;
  const arm = (): void => {
    if (armed || !isReady || acks < at.acks) return;
    armed = true;
    setTimeout(kill, at.ms);
  };
  return {
    ready: () => {
      isReady = true;
      arm();
    },
    acked: () => {
      acks++;
      arm();
    },
  };
}
