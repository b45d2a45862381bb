/**
 * Typed errors. Every failure a caller may handle is a subclass of `FlotillaError` with a
 * stable `code`, so callers switch on `code` rather than on message text.
 */

/** Base class of every error that Flotilla reports to its callers. */
export class FlotillaError extends Error {
  /** A stable, machine-readable identifier of the failure, e.g. `ERR_PROPOSAL_DROPPED`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration value is missing, out of range or inconsistent with another. */
export class ConfigError extends FlotillaError {
  constructor(message: string) {
    super('ERR_CONFIG', message);
  }
}
