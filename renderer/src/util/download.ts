let lastUrl: string | null = null;

/** Saves text as a file through the browser's download (Electron shows its save dialog). */
export function downloadText(filename: string, text: string, type: string): void {
  // The previous export's URL is released now (a download in progress holds its own reference);
  // revoking this one right after the click could cancel it in some browsers.
  if (lastUrl) URL.revokeObjectURL(lastUrl);
  const url = URL.createObjectURL(new Blob([text], { type }));
  lastUrl = url;
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/** A file name from free text. */
export function safeFileName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80) || 'ferry';
}
