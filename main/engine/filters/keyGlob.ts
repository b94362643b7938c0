/**
 * Redis glob patterns (the MATCH syntax: `*`, `?`, `[abc]`, `[^a-z]`, `\` escapes) matched against
 * key bytes. Pattern and key are both read as one character per byte (latin1), so binary keys and
 * UTF-8 text match exactly as Redis itself would match them.
 */
export function compileGlob(pattern: string): RegExp {
  const p = Buffer.from(pattern, 'utf8').toString('latin1');
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < p.length) re += escapeChar(p[++i]);
    else if (c === '[') {
      const close = findClass(p, i);
      if (close < 0) {
        re += escapeChar(c);
        continue;
      }
      let body = p.slice(i + 1, close);
      let negate = false;
      if (body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      let cls = '';
      for (let j = 0; j < body.length; j++) {
        if (body[j] === '\\' && j + 1 < body.length) cls += escapeChar(body[++j]);
        else if (body[j + 1] === '-' && j + 2 < body.length) {
          let [lo, hi] = [body[j], body[j + 2]];
          if (lo > hi) [lo, hi] = [hi, lo];
          cls += `${escapeChar(lo)}-${escapeChar(hi)}`;
          j += 2;
        } else cls += escapeChar(body[j]);
      }
      re += negate ? `[^${cls}]` : cls ? `[${cls}]` : '(?!)';
      i = close;
    } else re += escapeChar(c);
  }
  return new RegExp(`^${re}$`);
}

function findClass(p: string, open: number): number {
  for (let j = open + 1; j < p.length; j++) {
    if (p[j] === '\\') j++;
    else if (p[j] === ']') return j;
  }
  return -1;
}

function escapeChar(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}
