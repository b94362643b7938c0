import type { EngineEventOf } from '../../../shared/events.js';
import type { PlanDocument } from '../../../shared/plan.js';
import { appendCapped, KEEP_WARNINGS, noticeId, stagingFrom, tunnelFrom, type Notice, type StagingNode, type TunnelState } from './common.js';

export interface PlanState {
  status: 'idle' | 'running' | 'done' | 'failed';
  document: PlanDocument | null;
  error: string | null;
  /** Staging replicas synced for the plan, by `source node`. */
  staging: Record<string, StagingNode>;
  tunnels: Record<string, TunnelState>;
  warnings: Notice[];
  /** What each source is doing while the plan runs (staging messages). */
  stages: Record<string, string>;
  startedAt: number | null;
  /** The job text the plan is about (the UI says when the job has changed since). */
  yaml: string | null;
}

export function initialPlan(): PlanState {
  return { status: 'idle', document: null, error: null, staging: {}, tunnels: {}, warnings: [], stages: {}, startedAt: null, yaml: null };
}

export function planStarted(_plan: PlanState, at: number, yaml: string): PlanState {
  return { ...initialPlan(), status: 'running', startedAt: at, yaml };
}

export function planDone(plan: PlanState, document: PlanDocument): PlanState {
  return { ...plan, status: 'done', document, error: null };
}

export function planFailed(plan: PlanState, error: string): PlanState {
  return { ...plan, status: 'failed', error };
}

export function planStaging(plan: PlanState, e: EngineEventOf<'staging'>): PlanState {
  return { ...plan, staging: { ...plan.staging, [`${e.source} ${e.node}`]: stagingFrom(e) } };
}

export function planTunnel(plan: PlanState, e: EngineEventOf<'tunnel'>): PlanState {
  return { ...plan, tunnels: { ...plan.tunnels, [e.tunnel]: tunnelFrom(e) } };
}

export function planWarning(plan: PlanState, e: EngineEventOf<'warning'>): PlanState {
  return { ...plan, warnings: appendCapped(plan.warnings, { id: noticeId(), at: e.at, source: e.source, message: e.message }, KEEP_WARNINGS) };
}

export function planSourceStage(plan: PlanState, e: EngineEventOf<'source-stage'>): PlanState {
  return { ...plan, stages: { ...plan.stages, [e.source]: e.message ? `${e.stage}: ${e.message}` : e.stage } };
}
