import { useEffect } from 'react';
import { store, useFerry } from './appState.js';
import { HostKeyDialog } from './components/HostKeyDialog.js';
import { Nav } from './components/Nav.js';
import { StatusBar } from './components/StatusBar.js';
import { TopBar } from './components/TopBar.js';
import { JobScreen } from './screens/JobScreen.js';
import { PlanScreen } from './screens/PlanScreen.js';
import { RunScreen } from './screens/RunScreen.js';
import { VerifyScreen } from './screens/VerifyScreen.js';
import { SCREENS } from './store/uiSlice.js';

export function App() {
  const screen = useFerry((s) => s.ui.screen);
  const theme = useFerry((s) => s.ui.theme);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);

  // Alt+1..4 switch screens (by physical key, so it works on every keyboard layout).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      const m = /^Digit([1-4])$/.exec(e.code);
      if (!m) return;
      e.preventDefault();
      store.getState().setScreen(SCREENS[Number(m[1]) - 1]!);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <div className="app">
      <TopBar />
      <Nav />
      <main className="main" data-testid={`screen-${screen}`}>
        {screen === 'job' && <JobScreen />}
        {screen === 'plan' && <PlanScreen />}
        {screen === 'run' && <RunScreen />}
        {screen === 'verify' && <VerifyScreen />}
      </main>
      <StatusBar />
      <HostKeyDialog />
    </div>
  );
}
