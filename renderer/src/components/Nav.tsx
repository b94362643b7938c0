import { store, useFerry } from '../appState.js';
import { SCREENS, type Screen } from '../store/uiSlice.js';

const LABELS: Record<Screen, string> = { job: 'Job', plan: 'Plan', run: 'Run', verify: 'Verify' };

/** Live state beside each entry: a run in progress, a plan done. */
function useBadge(screen: Screen): string | null {
  return useFerry((s) => {
    if (screen === 'job') return s.job.dirty ? '•' : null;
    if (screen === 'plan') return s.plan.status === 'running' ? '…' : null;
    if (screen === 'run') return s.run.status === 'running' ? '…' : s.run.status === 'paused' ? '‖' : null;
    return s.verify.status === 'running' ? '…' : null;
  });
}

function NavItem({ screen, index }: { screen: Screen; index: number }) {
  const current = useFerry((s) => s.ui.screen === screen);
  const badge = useBadge(screen);
  return (
    <button
      type="button"
      data-testid={`nav-${screen}`}
      aria-current={current ? 'page' : undefined}
      aria-keyshortcuts={`Alt+${index + 1}`}
      title={`${LABELS[screen]} (Alt+${index + 1})`}
      onClick={() => store.getState().setScreen(screen)}
    >
      {LABELS[screen]} {badge && <span aria-hidden="true">{badge}</span>}
      <span className="hint">Alt+{index + 1}</span>
    </button>
  );
}

export function Nav() {
  return (
    <nav className="nav" aria-label="Screens">
      {SCREENS.map((screen, i) => (
        <NavItem key={screen} screen={screen} index={i} />
      ))}
    </nav>
  );
}
