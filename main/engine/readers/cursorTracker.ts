/**
 * Knows which SCAN cursor is safe to save in a checkpoint: the cursor after the newest page whose
 * keys, and the keys of every page before it, have all been settled by the writer. Pages are
 * settled out of order (pipelines, several target nodes), so this keeps them in a queue. A page
 * with a key that was not settled (an error, a conflict, a write cut off by a lost connection)
 * holds the cursor before it for good: a resumed run reads that page again.
 */
export class CursorTracker {
  private readonly pages: Page[] = [];
  /** The cursor a resumed scan may start from. */
  committed: string;
  /** True once every page up to the one that returned cursor 0 is settled: the shard is copied. */
  complete = false;

  constructor(startCursor: string) {
    this.committed = startCursor;
  }

  /** A page was read: `cursorAfter` is what SCAN returned with it. */
  openPage(cursorAfter: string): Page {
    const page = new Page(cursorAfter, () => this.advance());
    this.pages.push(page);
    return page;
  }

  private advance(): void {
    while (this.pages.length && this.pages[0].finished && !this.pages[0].failed) {
      const page = this.pages.shift()!;
      this.committed = page.cursorAfter;
      if (page.cursorAfter === '0') this.complete = true;
    }
  }
}

export class Page {
  private outstanding = 0;
  private sealed = false;
  /** A key of this page was not settled. */
  failed = false;

  constructor(
    readonly cursorAfter: string,
    private readonly onFinished: () => void,
  ) {}

  get finished(): boolean {
    return this.sealed && this.outstanding === 0;
  }

  /** One more key of this page is on its way to the target. */
  hold(): void {
    this.outstanding++;
  }

  /**
   * A key of this page is dealt with: `settled` when it is on the target or needs nothing more
   * (written, unchanged, skipped by policy, expired, vanished, filtered); false when it failed.
   */
  release(settled = true): void {
    if (!settled) this.failed = true;
    this.outstanding--;
    if (this.finished) this.onFinished();
  }

  /** Every key of the page has been handed on. */
  seal(): void {
    this.sealed = true;
    if (this.finished) this.onFinished();
  }
}
