/** Keys travel as hex (they are bytes). These show them as text when they are printable. */

export function hexToBytes(hex: string): Uint8Array {
  const clean = hex.length % 2 === 0 ? hex : `0${hex}`;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) {
    const b = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
    out[i] = Number.isNaN(b) ? 0 : b;
  }
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function textToHex(text: string): string {
  return bytesToHex(new TextEncoder().encode(text));
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Control characters (C0, DEL, C1) and lone surrogates make a key unprintable. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\ufffd]/;

/** The key as text when its bytes are printable UTF-8, else `0x…` hex. */
export function displayKey(hex: string): { text: string; printable: boolean } {
  const bytes = hexToBytes(hex);
  try {
    const text = decoder.decode(bytes);
    if (!UNPRINTABLE.test(text)) return { text, printable: true };
  } catch {
    // not UTF-8
  }
  return { text: `0x${hex.toLowerCase()}`, printable: false };
}
