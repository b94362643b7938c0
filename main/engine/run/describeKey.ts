/** A key as people can read it in a message: its text when printable, else hex. Long keys are cut. */
export function describeKey(key: Buffer): string {
  const text = key.toString('utf8');
  const printable = !text.includes('\uFFFD') && !/[\x00-\x1f\x7f]/.test(text);
  const shown = printable ? JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text) : `0x${key.subarray(0, 60).toString('hex')}${key.length > 60 ? '…' : ''}`;
  return `key ${shown}`;
}
