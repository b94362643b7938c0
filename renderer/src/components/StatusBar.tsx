import { useFerry } from '../appState.js';

export function StatusBar() {
  const info = useFerry((s) => s.ui.appInfo);
  const hostError = useFerry((s) => s.ui.hostError);
  const last = useFerry((s) => s.ui.activity[s.ui.activity.length - 1]);
  return (
    <footer className="statusbar" data-testid="statusbar">
      {hostError ? <span className="error">Host: {hostError}</span> : info ? <span>Ferry {info.version}</span> : <span>connecting…</span>}
      {info && info.keychain === 'none' && <span className="warnText">no OS keychain: secrets are kept by the host</span>}
      {info && <span className="mono" title="work directory">{info.workDir}</span>}
      {last && <span title={last.message}>{last.message}</span>}
    </footer>
  );
}
