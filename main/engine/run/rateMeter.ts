/** Keys/s and bytes/s over a sliding window of recent samples, for progress and ETA. */
export class RateMeter {
  private readonly samples: Array<{ at: number; keys: number; bytes: number }> = [];

  constructor(private readonly windowMs = 5_000) {}

  sample(keys: number, bytes: number, at = Date.now()): void {
    this.samples.push({ at, keys, bytes });
    while (this.samples.length > 2 && at - this.samples[1].at > this.windowMs) this.samples.shift();
  }

  get rates(): { keysPerSec: number; bytesPerSec: number } {
    if (this.samples.length < 2) return { keysPerSec: 0, bytesPerSec: 0 };
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (last.at - first.at) / 1000;
    if (seconds <= 0) return { keysPerSec: 0, bytesPerSec: 0 };
    return { keysPerSec: (last.keys - first.keys) / seconds, bytesPerSec: (last.bytes - first.bytes) / seconds };
  }
}
