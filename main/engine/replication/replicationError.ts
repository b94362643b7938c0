/**
 * What went wrong with a replication link, as a kind a caller can act on:
 * - `auth`: wrong or missing user/password.
 * - `refused`: the server will not replicate to us (PSYNC and SYNC unknown, renamed or forbidden by ACL,
 *   as on managed services); retrying does not help.
 * - `not-ready`: the server cannot serve a sync right now (still loading, or a replica that has lost
 *   its own master); retrying later may help.
 * - `unreachable`: no TCP connection (refused, no route, name not found, connect timeout).
 * - `timeout`: the link was up but went silent (no data, not even the master's PINGs).
 * - `protocol`: the server sent something that is not the replication protocol.
 * - `closed`: the server or the network closed an established link.
 */
export type ReplicationErrorKind = 'auth' | 'refused' | 'not-ready' | 'unreachable' | 'timeout' | 'protocol' | 'closed';

export class ReplicationError extends Error {
  constructor(
    readonly kind: ReplicationErrorKind,
    /** The endpoint's label, e.g. `source idc-01 (10.0.0.11:6379)`; the message starts with it. */
    readonly endpoint: string,
    message: string,
  ) {
    super(message.startsWith(endpoint) ? message : `${endpoint}: ${message}`);
    this.name = 'ReplicationError';
  }

  /** Whether reconnecting (with the last replid and offset) is worth a try. */
  get retryable(): boolean {
    return this.kind === 'unreachable' || this.kind === 'timeout' || this.kind === 'closed' || this.kind === 'not-ready';
  }
}
