import { useState, type InputHTMLAttributes } from 'react';

type Props = Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange'> & {
  value: string;
  /** Every keystroke: the text as typed (the caller turns it into the YAML value). */
  onCommit(text: string): void;
};

/**
 * An input over a value that lives in the YAML: while focused it shows what is typed (so "a, " or
 * "1." can be typed although the YAML holds ["a"] or 1), and the YAML's form otherwise.
 */
export function DraftInput({ value, onCommit, ...rest }: Props) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <input
      {...rest}
      value={draft ?? value}
      onFocus={(e) => {
        setDraft(value);
        rest.onFocus?.(e);
      }}
      onChange={(e) => {
        setDraft(e.target.value);
        onCommit(e.target.value);
      }}
      onBlur={(e) => {
        setDraft(null);
        rest.onBlur?.(e);
      }}
    />
  );
}
