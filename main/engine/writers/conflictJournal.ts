import fs from 'node:fs';

/**
 * Records every key that `onConflict: skip` left alone on the target (one JSON line each), so the
 * engineer can see them and verify can tell "kept by policy" from "differs".
 */
/** The journal's file name in a job's state directory. */
export const SKIP_JOURNAL_FILE = 'skipped-keys.ndjson';

export class ConflictJournal {
  private readonly stream: fs.WriteStream;

  constructor(readonly file: string, opts: { append: boolean }) {
    this.stream = fs.createWriteStream(file, { flags: opts.append ? 'a' : 'w' });
  }

  record(source: string, db: number, targetDb: number, key: Buffer): void {
    this.stream.write(`${JSON.stringify({ source, db, targetDb, keyHex: key.toString('hex') })}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }

  /** The `targetDb:keyHex` of every recorded key (a missing file is an empty set). */
  static read(file: string): Set<string> {
    const kept = new Set<string>();
    if (!fs.existsSync(file)) return kept;
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const row = JSON.parse(line) as { targetDb: number; keyHex: string };
        kept.add(`${row.targetDb}:${row.keyHex}`);
      } catch {
        // A line cut short by a crash: ignore it.
      }
    }
    return kept;
  }
}
