import type { CallOutput } from '../../../shared/api.js';
import type { EngineEvent } from '../../../shared/events.js';
import { appendCapped, noticeId, type Notice } from './common.js';

export const SCREENS = ['job', 'plan', 'run', 'verify'] as const;
export type Screen = (typeof SCREENS)[number];
export type Theme = 'dark' | 'light';

/** Where the theme is kept between sessions (localStorage in the app; a fake, or nothing, in tests). */
export interface ThemeStorage {
  load(): Theme | null;
  save(theme: Theme): void;
}

/** An SSH host key seen for the first time: the user accepts it (the call is made again) or not. */
export interface HostKeyQuestion {
  message: string;
  resolve(accept: boolean): void;
}

export interface SandboxState {
  status: 'off' | 'starting' | 'on' | 'stopping';
  path: string | null;
  error: string | null;
}

export interface UiState {
  screen: Screen;
  theme: Theme;
  hostKey: HostKeyQuestion | null;
  appInfo: CallOutput<'app.info'> | null;
  /** The host could not be reached or answered app.info with an error. */
  hostError: string | null;
  sandbox: SandboxState;
  /** Notices of operations without a screen of their own (endpoint tests, the sandbox). */
  activity: Notice[];
}

export function initialUi(theme: Theme): UiState {
  return { screen: 'job', theme, hostKey: null, appInfo: null, hostError: null, sandbox: { status: 'off', path: null, error: null }, activity: [] };
}

export function activityFrom(ui: UiState, kind: string, e: EngineEvent): UiState {
  let text: string | null = null;
  if (e.type === 'warning') text = e.message;
  else if (e.type === 'tunnel') text = `tunnel ${e.tunnel}: ${e.state}${e.message ? ` (${e.message})` : ''}`;
  else if (e.type === 'staging') text = `staging ${e.source} ${e.node}: ${e.state}`;
  if (text === null) return ui;
  return { ...ui, activity: appendCapped(ui.activity, { id: noticeId(), at: e.at, message: `${kind}: ${text}` }, 50) };
}
