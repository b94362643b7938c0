import type { Job } from '../../../shared/job.js';
import type { Endpoint } from '../endpoints/endpoint.js';

/**
 * Where keys of a source db go: `options.dbs` first; else the db in the target URL's path, if it
 * names one; else the same db number.
 */
export function targetDbMapping(job: Job, target: Endpoint): (sourceDb: number) => number {
  const { db, dbInPath } = target.address;
  return (sourceDb) => job.options.dbs[String(sourceDb)] ?? (dbInPath ? db : sourceDb);
}
