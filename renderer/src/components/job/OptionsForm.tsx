import { actions, useFerry } from '../../appState.js';
import { KEY_TYPES } from '../../../../shared/job.js';
import { dbsFromText, dbsToText, isRecord, numberOrText, valueAt } from '../../store/jobModel.js';
import { DraftInput } from '../DraftInput.js';
import { CheckField, Section, SelectField, TextField } from './fields.js';

function DbsField() {
  const text = useFerry((s) => dbsToText(valueAt(s.job.draft, ['options', 'dbs'])));
  return (
    <div className="field wide" title="source db : target db">
      <label htmlFor="opt-dbs">dbs (source:target)</label>
      <DraftInput id="opt-dbs" data-testid="field-options-dbs" value={text} placeholder='0:0, 3:0' onCommit={(t) => actions.setField(['options', 'dbs'], dbsFromText(t))} />
    </div>
  );
}

function TypesField() {
  const types = useFerry((s) => {
    const v = valueAt(s.job.draft, ['options', 'types']);
    return Array.isArray(v) ? v.join(',') : '';
  });
  const selected = types === '' ? [] : types.split(',');
  const toggle = (t: string, on: boolean) => {
    const next = KEY_TYPES.filter((k) => (k === t ? on : selected.includes(k)));
    actions.setField(['options', 'types'], next.length > 0 ? next : undefined);
  };
  return (
    <fieldset className="full" style={{ border: 'none', padding: 0, margin: 0 }} data-testid="field-options-types">
      <legend className="muted" style={{ fontSize: 11 }}>
        types (none checked: every type)
      </legend>
      <div className="row">
        {KEY_TYPES.map((t) => (
          <label key={t} className="row" style={{ gap: 4, color: 'var(--text)' }}>
            <input type="checkbox" checked={selected.includes(t)} onChange={(e) => toggle(t, e.target.checked)} />
            {t}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** options.parallel: a number (sources) or { sources, staging }; always written as the mapping here. */
function ParallelFields() {
  const p = useFerry((s) => {
    const v = valueAt(s.job.draft, ['options', 'parallel']);
    if (typeof v === 'number') return `${v}|`;
    if (isRecord(v)) return `${v.sources ?? ''}|${v.staging ?? ''}`;
    return '|';
  });
  const [sources, staging] = p.split('|') as [string, string];
  const write = (which: 'sources' | 'staging', text: string) => {
    const next: Record<string, unknown> = { sources: numberOrText(sources), staging: numberOrText(staging) };
    next[which] = numberOrText(text);
    const clean = Object.fromEntries(Object.entries(next).filter(([, v]) => v !== undefined));
    actions.setField(['options', 'parallel'], Object.keys(clean).length > 0 ? clean : undefined);
  };
  return (
    <>
      <div className="field">
        <label htmlFor="opt-par-src">parallel sources</label>
        <DraftInput id="opt-par-src" data-testid="field-options-parallel-sources" value={sources} placeholder="4" onCommit={(t) => write('sources', t)} />
      </div>
      <div className="field">
        <label htmlFor="opt-par-stg">parallel staging</label>
        <DraftInput id="opt-par-stg" data-testid="field-options-parallel-staging" value={staging} placeholder="4" onCommit={(t) => write('staging', t)} />
      </div>
    </>
  );
}

export function OptionsForm() {
  return (
    <Section title="Options" testId="job-options">
      <div className="formgrid">
        <SelectField label="onConflict" path={['options', 'onConflict']} options={['fail', 'skip', 'replace']} emptyLabel="fail (default)" />
        <DbsField />
        <TextField label="latencyBudgetMs" path={['options', 'latencyBudgetMs']} kind="number" placeholder="2" />
        <TextField label="include (globs)" path={['options', 'include']} kind="list" placeholder="user:*, session:*" className="wide" />
        <TextField label="exclude (globs)" path={['options', 'exclude']} kind="list" placeholder="session:tmp:*" className="wide" />
        <TypesField />
        <CheckField label="keep TTLs" path={['options', 'ttl', 'keep']} whenOff={false} whenOn={true} defaultValue={true} />
        <TextField label="ttl.extendMs" path={['options', 'ttl', 'extendMs']} kind="number" placeholder="0" />
        <TextField label="bigKey.bytes" path={['options', 'bigKey', 'bytes']} kind="number" placeholder="8mb" />
        <TextField label="bigKey.elements" path={['options', 'bigKey', 'elements']} kind="number" placeholder="10000" />
        <TextField label="maxKeysPerSec" path={['options', 'maxKeysPerSec']} kind="number" placeholder="0 = no limit" />
        <TextField label="maxBytesPerSec" path={['options', 'maxBytesPerSec']} kind="number" placeholder="0 = no limit" />
        <ParallelFields />
      </div>
    </Section>
  );
}
