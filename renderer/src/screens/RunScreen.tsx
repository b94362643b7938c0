import { BigKeyProgressPanel, LatencyCharts, RunControls, RunHeader, RunNotices, RunOutcomeView } from '../components/run/RunPanels.js';
import { CutoverPanel, LiveNodesPanel } from '../components/run/LivePanels.js';
import { RunRows } from '../components/run/RunRows.js';

export function RunScreen() {
  return (
    <section aria-label="Run">
      <RunControls />
      <RunHeader />
      <RunOutcomeView />
      <div className="panel">
        <RunRows />
      </div>
      <LiveNodesPanel />
      <CutoverPanel />
      <BigKeyProgressPanel />
      <LatencyCharts />
      <RunNotices />
    </section>
  );
}
