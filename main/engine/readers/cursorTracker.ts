/**
 * Knows which SCAN cursor is safe to save in a checkpoint: the cursor after the newest page whose
 * keys, and the keys of every page before it, have all been finished by the writer. Pages are
 * finished out of order (pipelines, several target nodes), so this keeps them in a queue.
 */
export class CursorTracker {
  private readonly pages: Page[] = [];
  /** The cursor a resumed scan may start from. */
  committed: string;
  /** True once the page that returned cursor 0 is finished: the whole shard is copied. */
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
    while (this.pages.length && this.pages[0].finished) {
      const page = this.pages.shift()!;
      this.committed = page.cursorAfter;
      if (page.cursorAfter === '0') this.complete = true;
    }
  }
}

export class Page {
  private outstanding = 0;
  private sealed = false;

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

  /** A key of this page is finished (written, skipped, vanished, failed). */
  release(): void {
    this.outstanding--;
    if (this.finished) this.onFinished();
  }

  /** Every key of the page has been handed on. */
  seal(): void {
    this.sealed = true;
    if (this.finished) this.onFinished();
  }
}
