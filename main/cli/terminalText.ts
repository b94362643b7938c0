/**
 * Text for a terminal, shared by the command's summaries (plan, rdb inspect): lines of at most
 * WIDTH, control characters shown escaped, keys quoted or as hex, aligned columns.
 */

export const WIDTH = 120;

/** Text from a report, safe for a terminal: no control characters (tabs and newlines become spaces). */
export function clean(text: string): string {
  return text.replace(/[\t\n\r]/g, ' ').replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A key for a terminal: quoted text, or its 0x-hex as it is (also cut short with …). */
export function showKey(key: string, keyHex: string): string {
  const body = key.endsWith('…') ? key.slice(2, -1) : key.slice(2);
  if (key.startsWith('0x') && body !== '' && keyHex.startsWith(body)) return key;
  return clean(JSON.stringify(key));
}

export function clip(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
}

/** Word-wraps `text` to WIDTH: the first line after `first`, the following ones after `indent` spaces. */
export function wrap(text: string, first: string, indent: number): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  const pad = ' '.repeat(indent);
  for (let word of text.split(/ +/).filter(Boolean)) {
    while (true) {
      const candidate = empty ? line + word : `${line} ${word}`;
      if (candidate.length <= WIDTH) {
        line = candidate;
        empty = false;
        break;
      }
      if (empty) {
        // A word longer than a whole line: cut it.
        const room = Math.max(1, WIDTH - line.length);
        lines.push(line + word.slice(0, room));
        word = word.slice(room);
        line = pad;
        continue;
      }
      lines.push(line);
      line = pad;
      empty = true;
    }
  }
  if (!empty || lines.length === 0) lines.push(line);
  return lines;
}

/** Packs parts into lines of at most WIDTH, separated by `sep`; continuation lines indented. */
export function pack(parts: string[], first: string, indent: number, sep = '  '): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const part of parts) {
    const candidate = empty ? line + part : `${line}${sep}${part}`;
    if (candidate.length <= WIDTH || empty) {
      line = candidate;
      empty = false;
    } else {
      lines.push(line);
      line = ' '.repeat(indent) + part;
    }
  }
  lines.push(line);
  return lines;
}

/** Rows as aligned columns; `right` lists the columns aligned right. The last column is not padded. */
export function columns(rows: string[][], right: number[], indent: number): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map(
    (r) => ' '.repeat(indent) + r.map((c, i) => (i === r.length - 1 ? c : right.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd(),
  );
}
