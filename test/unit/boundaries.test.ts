import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli.js';

/** Every TypeScript file below a folder. */
function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sources(full) : /\.(ts|tsx|js|mjs)$/.test(e.name) ? [full] : [];
  });
}

/** The module specifiers a file imports (static, dynamic, re-exports, require). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const re of [/\bfrom\s+['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /^\s*import\s+['"]([^'"]+)['"]/gm]) {
    for (const m of text.matchAll(re)) found.push(m[1]);
  }
  return found;
}

describe('architecture boundaries', () => {
  for (const folder of ['main/engine', 'shared']) {
    it(`${folder} imports nothing from electron or renderer/`, () => {
      const files = sources(path.join(REPO_ROOT, folder));
      expect(files.length).toBeGreaterThan(0);
      const offenders: string[] = [];
      for (const file of files) {
        for (const spec of importsOf(file)) {
          const resolved = spec.startsWith('.') ? path.relative(REPO_ROOT, path.resolve(path.dirname(file), spec)) : spec;
          if (spec === 'electron' || spec.startsWith('electron/') || resolved.startsWith('renderer') || resolved.startsWith(`main${path.sep}electron`)) {
            offenders.push(`${path.relative(REPO_ROOT, file)} imports ${spec}`);
          }
        }
      }
      expect(offenders).toEqual([]);
    });
  }

  it('shared/ imports only zod and other shared/ modules (the renderer bundles it)', () => {
    const offenders = sources(path.join(REPO_ROOT, 'shared')).flatMap((file) =>
      importsOf(file)
        .filter((spec) => !(spec === 'zod' || (spec.startsWith('./') && !spec.includes('..'))))
        .map((spec) => `${path.relative(REPO_ROOT, file)} imports ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it('the boundary check itself catches an offending import', () => {
    const tmp = fs.mkdtempSync(path.join(REPO_ROOT, 'test', '.boundary-'));
    try {
      fs.writeFileSync(path.join(tmp, 'bad.ts'), "import { app } from 'electron';\nconst x = await import('../renderer/x.js');\n");
      expect(importsOf(path.join(tmp, 'bad.ts'))).toEqual(['electron', '../renderer/x.js']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
