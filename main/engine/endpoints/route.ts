/**
 * How an endpoint reaches its servers when they are not directly reachable: an SSH tunnel gives a
 * local address for each server address (main/engine/tunnels). Without a route, addresses are used
 * as they are.
 */
export interface Route {
  /** What stands in between, for messages: `tunnel idc`, `staging copy`. */
  readonly via: string;
  /** A local address that leads to `host:port` (opened on first use, then the same each time). */
  reach(host: string, port: number): Promise<{ host: string; port: number }>;
}
