import type { KeyType } from '../keys/keyTypes.js';
import { compileGlob } from './keyGlob.js';

/** The job's key selection: include/exclude globs over key bytes, and a type list. */
export class KeyFilter {
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];
  private readonly types: Set<string> | null;
  /** A pattern SCAN can apply itself (only when exactly one include pattern is given). */
  readonly scanMatch: string | undefined;

  constructor(opts: { include: readonly string[]; exclude: readonly string[]; types: readonly KeyType[] }) {
    this.include = opts.include.map(compileGlob);
    this.exclude = opts.exclude.map(compileGlob);
    this.types = opts.types.length ? new Set(opts.types) : null;
    this.scanMatch = opts.include.length === 1 ? opts.include[0] : undefined;
  }

  /** A SCAN command for one page, with the include pattern when SCAN can apply it itself. */
  scanArgs(cursor: string, count: number): Array<string | number> {
    return this.scanMatch === undefined ? ['SCAN', cursor, 'COUNT', count] : ['SCAN', cursor, 'MATCH', this.scanMatch, 'COUNT', count];
  }

  get selectsAllKeys(): boolean {
    return this.include.length === 0 && this.exclude.length === 0;
  }

  matchesKey(key: Buffer): boolean {
    if (this.selectsAllKeys) return true;
    const text = key.toString('latin1');
    if (this.include.length && !this.include.some((re) => re.test(text))) return false;
    return !this.exclude.some((re) => re.test(text));
  }

  matchesType(type: string): boolean {
    return this.types === null || this.types.has(type);
  }
}
