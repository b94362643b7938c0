import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { relaxCspForDev } from './devCsp.js';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

// One bundle for both doors: Electron loads it from file (hence the relative base) and `ferry serve`
// over http://127.0.0.1. No inline scripts, no eval: the page's CSP forbids both.
export default defineConfig({
  root: here,
  base: './',
  plugins: [react(), relaxCspForDev()],
  build: {
    outDir: path.resolve(here, '../out/renderer'),
    emptyOutDir: true,
    target: 'es2022',
    // The polyfill would be an extra script; Electron's Chromium and current browsers need none.
    modulePreload: { polyfill: false },
    sourcemap: false,
    // One bundle for a desktop app (React, zod, yaml): no point splitting it.
    chunkSizeWarningLimit: 1024,
  },
});
