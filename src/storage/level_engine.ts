/**
 * The LevelDB engine: the durable engine on classic-level, one database directory per store.
 */
import { LevelBackend } from './_level_backend.js';
import { DurableEngine, type DurableEngineOptions } from './durable_engine.js';

/** Options of the LevelDB engine. */
export interface LevelEngineOptions extends DurableEngineOptions {
  /** The database directory (created when missing). */
  location: string;
}

/** The durable engine on LevelDB. */
export class LevelEngine extends DurableEngine {
  /** The database directory. */
  readonly location: string;

  constructor(options: LevelEngineOptions) {
    super(new LevelBackend(options.location), options);
    this.location = options.location;
  }
}
