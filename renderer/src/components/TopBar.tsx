import { actions, store, useFerry } from '../appState.js';

export function TopBar() {
  const name = useFerry((s) => (typeof s.job.draft.name === 'string' ? s.job.draft.name : '(unnamed job)'));
  const dirty = useFerry((s) => s.job.dirty);
  const path = useFerry((s) => s.job.path);
  const sandbox = useFerry((s) => s.ui.sandbox);
  const theme = useFerry((s) => s.ui.theme);
  return (
    <header className="topbar">
      <span className="brand">FERRY</span>
      <span className="jobname" data-testid="job-name" title={path || 'not saved yet'}>
        {name}
        {dirty && <span className="muted" title="unsaved changes"> •</span>}
      </span>
      {path && <span className="muted mono">{path}</span>}
      <span className="spacer" />
      {sandbox.error && <span className="error" data-testid="sandbox-error">{sandbox.error}</span>}
      <button
        type="button"
        data-testid="sandbox-button"
        disabled={sandbox.status === 'starting' || sandbox.status === 'stopping'}
        onClick={() => void actions.startSandbox()}
        title="Start local servers with realistic data and load a job for them"
      >
        {sandbox.status === 'starting' ? 'Starting sandbox…' : sandbox.status === 'on' ? 'Sandbox (reload job)' : 'Sandbox'}
      </button>
      {sandbox.status !== 'off' && (
        <button type="button" data-testid="sandbox-stop" disabled={sandbox.status !== 'on'} onClick={() => void actions.stopSandbox()}>
          Stop sandbox
        </button>
      )}
      <button
        type="button"
        data-testid="theme-toggle"
        data-theme={theme}
        aria-label={`Switch to the ${theme === 'dark' ? 'light' : 'dark'} theme`}
        onClick={() => store.getState().toggleTheme()}
      >
        {theme === 'dark' ? '☀ Light' : '☾ Dark'}
      </button>
    </header>
  );
}
