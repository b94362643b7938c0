// The desktop app's build (`npm start` = electron-vite dev, `npm run build:app` = electron-vite build):
//   out/main/main.js          the main process (ESM, as package.json says "type": "module")
//   out/preload/preload.cjs   the preload: ONE CommonJS file, since a sandboxed preload cannot load ESM
//                             nor require anything but 'electron' (shared/api.ts and zod are inlined)
//   out/renderer/             the page, built as renderer/vite.config.ts builds it for `ferry serve`
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { relaxCspForDev } from './renderer/devCsp.js';
import { defineConfig } from 'electron-vite';

const root = path.dirname(fileURLToPath(import.meta.url));
const at = (p: string) => path.resolve(root, p);

export default defineConfig({
  main: {
    build: {
      outDir: at('out/main'),
      // Dependencies stay in node_modules (packaged by electron-builder as they are): ssh2 has
      // optional native parts and must never be bundled. ioredis is listed in case it is ever added.
      externalizeDeps: { include: ['ssh2', 'ioredis'] },
      rolldownOptions: {
        input: { main: at('main/electron/main.ts') },
        output: { format: 'es', entryFileNames: '[name].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: at('out/preload'),
      // Sandboxed: nothing may be left for `require` but 'electron', so every dependency is bundled.
      externalizeDeps: false,
      rolldownOptions: {
        input: { preload: at('main/electron/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs', codeSplitting: false },
      },
    },
  },
  renderer: {
    // Kept in step with renderer/vite.config.ts (base './', out/renderer).
    root: at('renderer'),
    base: './',
    plugins: [react(), relaxCspForDev()],
    build: {
      outDir: at('out/renderer'),
      emptyOutDir: true,
      modulePreload: { polyfill: false },
      sourcemap: false,
      rolldownOptions: { input: at('renderer/index.html') },
    },
  },
});
