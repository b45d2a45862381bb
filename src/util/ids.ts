/**
 * Identifier bounds that more than one layer must agree on.
 */

/**
 * The exclusive upper bound of a range id: range ids travel as the `rangeId` of envelopes,
 * varint-coded on the wire and kept in a store's Uint32Array table, so they are integers in
 * [0, 2^32) (0 is the store's liveness group). Not to be confused with the scheduler's
 * `GroupId`, a dense table slot bounded by `GROUP_ID_LIMIT`.
 */
export const RANGE_ID_LIMIT = 2 ** 32;
