import type { EngineEvent } from '../../../shared/events.js';

export type EngineListener = (event: EngineEvent) => void;

/** The engine's one way out: every state change, count and warning is an event published here. */
export class EventBus {
  private readonly listeners = new Set<EngineListener>();

  /** Subscribes; returns the unsubscribe function. */
  on(listener: EngineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: EngineEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
