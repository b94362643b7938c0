import type { Job } from '../../../shared/job.js';
import type { EventBus } from '../events/eventBus.js';
import { LatencyProbes } from './latencyProbe.js';
import { createPace, type Pace } from './pace.js';

/** A run's pacing: the latency guard and token bucket, and the probes that feed the guard and report on the bus. */
export function runPacing(job: Job, bus: EventBus): { pace: Pace; probes: LatencyProbes } {
  const pace = createPace(job);
  const probes = new LatencyProbes({
    budgetMs: job.options.latencyBudgetMs,
    guard: pace.guard,
    onEvent: (event) => bus.emit(event),
    onWarning: (message) => bus.emit({ type: 'warning', message, at: Date.now() }),
  });
  return { pace, probes };
}
