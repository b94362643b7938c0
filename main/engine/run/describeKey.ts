/** A key as people can read it: its text when printable, else 0x-hex. Long keys are cut. */
export function keyText(key: Buffer): string {
  const text = key.toString('utf8');
  const printable = !text.includes('\uFFFD') && !/[\x00-\x1f\x7f]/.test(text);
  if (printable) return text.length > 120 ? `${text.slice(0, 120)}…` : text;
  return `0x${key.subarray(0, 60).toString('hex')}${key.length > 60 ? '…' : ''}`;
}

/** A key for a message: `key "user:1"`, or `key 0x00ff…` for bytes that are not text. */
export function describeKey(key: Buffer): string {
  const text = keyText(key);
  return `key ${text.startsWith('0x') && !key.toString('utf8').startsWith('0x') ? text : JSON.stringify(text)}`;
}
