import { useEffect, useState } from 'react';
import { actions, useFerry } from '../../appState.js';

/** Open / Save by a path the user types (the host's file system), New, Validate. */
export function JobFileBar() {
  const path = useFerry((s) => s.job.path);
  const dirty = useFerry((s) => s.job.dirty);
  const [typed, setTyped] = useState(path);
  const [busy, setBusy] = useState(false);
  /** Open or New over unsaved changes waits for a second click (no modal dialog). */
  const [confirming, setConfirming] = useState<'open' | 'new' | null>(null);
  useEffect(() => setTyped(path), [path]);
  useEffect(() => {
    if (!dirty) setConfirming(null);
  }, [dirty]);

  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await fn();
    } finally {
      setBusy(false);
    }
  };
  const doOpen = () => void run(() => actions.open(typed.trim()));
  const doNew = () => actions.newJob();
  const guarded = (what: 'open' | 'new') => {
    if (dirty) setConfirming(what);
    else if (what === 'open') doOpen();
    else doNew();
  };

  return (
    <>
      <div className="toolbar">
        <label htmlFor="job-path">File</label>
        <input
          id="job-path"
          className="mono grow"
          data-testid="job-path"
          value={typed}
          placeholder="/path/to/job.yaml"
          onChange={(e) => setTyped(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && typed.trim() !== '') guarded('open');
          }}
          spellCheck={false}
        />
        <button type="button" data-testid="job-open" disabled={busy || typed.trim() === ''} onClick={() => guarded('open')}>
          Open
        </button>
        <button type="button" data-testid="job-save" disabled={busy || typed.trim() === ''} onClick={() => void run(() => actions.save(typed.trim()))}>
          Save{dirty ? ' •' : ''}
        </button>
        <button type="button" data-testid="job-new" disabled={busy} onClick={() => guarded('new')}>
          New
        </button>
        <button type="button" className="primary" data-testid="job-validate" disabled={busy} onClick={() => void run(() => actions.validate())}>
          Validate
        </button>
      </div>
      {confirming && (
        <div className="toolbar" role="alert" data-testid="job-discard">
          <span className="warnText">The job has unsaved changes.</span>
          <button
            type="button"
            className="danger"
            data-testid="job-discard-confirm"
            autoFocus
            onClick={() => {
              setConfirming(null);
              if (confirming === 'open') doOpen();
              else doNew();
            }}
          >
            Discard them and {confirming === 'open' ? 'open' : 'start a new job'}
          </button>
          <button type="button" data-testid="job-discard-cancel" onClick={() => setConfirming(null)}>
            Keep editing
          </button>
        </div>
      )}
    </>
  );
}
