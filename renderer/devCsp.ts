import type { Plugin } from 'vite';

/**
 * Development only (`npm start`, `vite dev`): React's refresh preamble is an inline script and hot
 * reload talks over ws://, both of which the page's CSP forbids. The built page keeps its strict CSP.
 */
export function relaxCspForDev(): Plugin {
  const dev = "default-src 'self'; script-src 'self' 'unsafe-inline'; connect-src 'self' ws: http://localhost:* ws://127.0.0.1:*; style-src 'self' 'unsafe-inline'; img-src 'self' data:";
  return {
    name: 'ferry-dev-csp',
    apply: 'serve',
    transformIndexHtml: (html) => html.replace(/(http-equiv="Content-Security-Policy"\s+content=")[^"]*"/, `$1${dev}"`),
  };
}
