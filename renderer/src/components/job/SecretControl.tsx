import { useState } from 'react';
import { actions, useFerry } from '../../appState.js';
import { literalUrlPassword, secretName, textOf, valueAt, type FieldPath } from '../../store/jobModel.js';
import type { SecretTarget } from '../../store/actions.js';

/**
 * A password typed here never goes into the job: it is kept with secret.set and the job gets
 * `${secret:NAME}` (in the URL's password, or as the field's value).
 */
export function SecretControl({ label, defaultName, target, testId }: { label: string; defaultName: string; target: SecretTarget; testId: string }) {
  const [value, setValue] = useState('');
  // The name follows the endpoint's name until the user types one.
  const [typedName, setTypedName] = useState<string | null>(null);
  const name = typedName ?? secretName(defaultName);
  const [busy, setBusy] = useState(false);
  const current = useFerry((s) => textOf(valueAt(s.job.draft, target.path as FieldPath)));
  const literal = target.kind === 'url' ? literalUrlPassword(current) !== null : current !== '' && !/^\$\{[^}]*\}$/.test(current);
  const store = async () => {
    setBusy(true);
    const ok = await actions.storeSecret(name, value, target);
    setBusy(false);
    if (ok) setValue('');
  };
  return (
    <div className="secret" data-testid={testId}>
      <input
        type="password"
        aria-label={`${label}: password`}
        placeholder={literal ? 'literal password in the job' : label}
        value={value}
        autoComplete="off"
        onChange={(e) => setValue(e.target.value)}
        data-testid={`${testId}-value`}
      />
      <input aria-label={`${label}: secret name`} value={name} onChange={(e) => setTypedName(e.target.value)} className="mono" data-testid={`${testId}-name`} title="the secret's name" />
      <button type="button" disabled={busy || (value === '' && !literal) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)} onClick={() => void store()} data-testid={`${testId}-store`}>
        {literal && value === '' ? 'Move to secret' : 'Store as secret'}
      </button>
      {literal && <span className="warnText" title="job.save refuses a job with a literal password">⚠ literal</span>}
    </div>
  );
}
