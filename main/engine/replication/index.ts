/**
 * The replication reader, first part of live sync: Ferry as a replica of a Redis master (a staging
 * replica, or the source itself). See ReplicaLink.
 */
export { ReplicaLink, type ReplicaLinkOptions, type ReplicationCommand, type SyncStart } from './replicaLink.js';
export type { ReplicationPosition } from './handshake.js';
export { ReplicationError, type ReplicationErrorKind } from './replicationError.js';
export { StreamParser, StreamProtocolError, type StreamCommand } from './streamParser.js';
