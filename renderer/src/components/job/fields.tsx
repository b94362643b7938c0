import type { ReactNode } from 'react';
import { actions, useFerry } from '../../appState.js';
import { listFromText, numberOrText, textOf, valueAt, type FieldPath } from '../../store/jobModel.js';
import { DraftInput } from '../DraftInput.js';

let nextId = 0;
const ids = new Map<string, string>();
/** A stable element id per field path (labels point at their inputs). */
function idFor(path: FieldPath): string {
  const key = JSON.stringify(path);
  let id = ids.get(key);
  if (!id) {
    id = `f${++nextId}`;
    ids.set(key, id);
  }
  return id;
}

export function testIdOf(path: FieldPath): string {
  return `field-${path.join('-')}`;
}

interface FieldProps {
  label: string;
  path: FieldPath;
  kind?: 'text' | 'number' | 'list';
  placeholder?: string;
  className?: string;
  title?: string;
}

/** A text field bound to one place in the YAML ('' removes the field). */
export function TextField({ label, path, kind = 'text', placeholder, className, title }: FieldProps) {
  const text = useFerry((s) => {
    const v = valueAt(s.job.draft, path);
    return kind === 'list' && Array.isArray(v) ? v.map(textOf).join(', ') : textOf(v);
  });
  const id = idFor(path);
  return (
    <div className={`field ${className ?? ''}`} title={title}>
      <label htmlFor={id}>{label}</label>
      <DraftInput
        id={id}
        data-testid={testIdOf(path)}
        value={text}
        placeholder={placeholder}
        spellCheck={false}
        onCommit={(t) => {
          const value = kind === 'number' ? numberOrText(t) : kind === 'list' ? listFromText(t) : t === '' ? undefined : t;
          actions.setField(path, value);
        }}
      />
    </div>
  );
}

/** A select bound to one place in the YAML; the empty option removes the field. */
export function SelectField({ label, path, options, emptyLabel, className }: { label: string; path: FieldPath; options: readonly string[]; emptyLabel?: string; className?: string }) {
  const value = useFerry((s) => textOf(valueAt(s.job.draft, path)));
  const id = idFor(path);
  const all = value !== '' && !options.includes(value) ? [...options, value] : options;
  return (
    <div className={`field ${className ?? ''}`}>
      <label htmlFor={id}>{label}</label>
      <select id={id} data-testid={testIdOf(path)} value={value} onChange={(e) => actions.setField(path, e.target.value === '' ? undefined : e.target.value)}>
        {emptyLabel !== undefined && <option value="">{emptyLabel}</option>}
        {all.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * A checkbox bound to a boolean in the YAML. `whenOff`/`whenOn` say what is written (undefined
 * removes the field, for options whose default is that state).
 */
export function CheckField({ label, path, whenOn = true, whenOff, defaultValue = false, title }: { label: string; path: FieldPath; whenOn?: boolean | undefined; whenOff?: boolean | undefined; defaultValue?: boolean; title?: string }) {
  const checked = useFerry((s) => {
    const v = valueAt(s.job.draft, path);
    return typeof v === 'boolean' ? v : defaultValue;
  });
  const id = idFor(path);
  return (
    <div className="field check" title={title}>
      <input id={id} type="checkbox" data-testid={testIdOf(path)} checked={checked} onChange={(e) => actions.setField(path, e.target.checked ? whenOn : whenOff)} />
      <label htmlFor={id}>{label}</label>
    </div>
  );
}

export function Section({ title, children, open = true, testId }: { title: string; children: ReactNode; open?: boolean; testId?: string }) {
  return (
    <details className="panel" open={open} data-testid={testId}>
      <summary>{title}</summary>
      <div style={{ marginTop: 8 }}>{children}</div>
    </details>
  );
}
