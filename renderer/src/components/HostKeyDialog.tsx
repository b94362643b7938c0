import { useEffect, useRef } from 'react';
import { store, useFerry } from '../appState.js';

/** An SSH host key seen for the first time: the message holds its fingerprint. */
export function HostKeyDialog() {
  const q = useFerry((s) => s.ui.hostKey);
  const accept = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (q) accept.current?.focus();
  }, [q]);
  if (!q) return null;
  const answer = (ok: boolean) => store.getState().answerHostKey(ok);
  return (
    <div className="overlay">
      <div
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="hostkey-title"
        data-testid="hostkey-dialog"
        onKeyDown={(e) => {
          if (e.key === 'Escape') answer(false);
          if (e.key !== 'Tab') return;
          // Keep the focus inside the dialog while it is open.
          const buttons = Array.from(e.currentTarget.querySelectorAll('button'));
          const first = buttons[0];
          const last = buttons[buttons.length - 1];
          if (!e.shiftKey && document.activeElement === last) {
            e.preventDefault();
            first?.focus();
          } else if (e.shiftKey && document.activeElement === first) {
            e.preventDefault();
            last?.focus();
          }
        }}
      >
        <h2 id="hostkey-title">Unknown SSH host key</h2>
        <p className="mono" data-testid="hostkey-message">
          {q.message}
        </p>
        <p className="muted">Check the fingerprint with the server's administrator. Accepting records the key in Ferry's known_hosts and makes the call again.</p>
        <div className="row">
          <button ref={accept} type="button" className="primary" data-testid="hostkey-accept" onClick={() => answer(true)}>
            Accept and retry
          </button>
          <button type="button" data-testid="hostkey-cancel" onClick={() => answer(false)}>
            Cancel
          </button>
        </div>
      </div>
    </div>
  );
}
