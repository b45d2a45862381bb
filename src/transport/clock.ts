/**
 * Time for the transports: the shared `Clock` of src/util/clock.ts, under the names the
 * transport's options use, so that the simulation runs the loopback transport on virtual time.
 */
export {
  systemClock as realClock,
  type Clock as TransportClock,
  type TimerHandle,
} from '../util/index.js';
