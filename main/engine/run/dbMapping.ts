import type { Job } from '../../../shared/job.js';
import type { RedisAddress } from '../endpoints/redisUrl.js';

/**
 * Where keys of a source db go: `options.dbs` first; else the db in the target URL's path, if it
 * names one; else the same db number.
 */
export function targetDbMapping(job: Job, target: Pick<RedisAddress, 'db' | 'dbInPath'>): (sourceDb: number) => number {
  const { db, dbInPath } = target;
  return (sourceDb) => job.options.dbs[String(sourceDb)] ?? (dbInPath ? db : sourceDb);
}
