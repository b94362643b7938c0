// `ferry serve` serves the built renderer; it builds it first when the sources are newer.
import fs from 'node:fs';
import path from 'node:path';

/** Test files and folders do not go into the bundle: changing them needs no rebuild. */
const NOT_BUILT = /\.test\.[cm]?[jt]sx?$|^__tests__$|^__snapshots__$|^node_modules$|^\./;

/**
 * The static directory of the built renderer (`out/renderer`), built with Vite when its
 * index.html is missing or older than a file under renderer/ or shared/.
 */
export async function ensureRendererBuilt(root: string): Promise<string> {
  const outDir = path.join(root, 'out', 'renderer');
  const index = path.join(outDir, 'index.html');
  const builtAt = mtimeOf(index);
  const newest = Math.max(newestFile(path.join(root, 'renderer')), newestFile(path.join(root, 'shared')));
  if (builtAt !== null && builtAt >= newest) return outDir;

  const configFile = path.join(root, 'renderer', 'vite.config.ts');
  if (!fs.existsSync(configFile)) {
    // Sources without a way to build them (e.g. an install without the renderer): serve what exists.
    if (builtAt !== null) return outDir;
    throw new Error(`the workbench UI is not built (${index} is missing) and there is no ${configFile} to build it with; run "npm run build:renderer" in a full checkout of Ferry`);
  }
  const { build } = await import('vite');
  try {
    await build({ configFile, logLevel: 'warn' });
  } catch (err) {
    // Vite's message carries its own stack lines: the user needs what failed, not where in Vite.
    const message = String((err as Error)?.message ?? err).split('\n').filter((line) => !/^\s+at /.test(line)).join('\n').trim();
    throw new Error(`building the workbench UI (${configFile}) failed: ${message}`);
  }
  if (!fs.existsSync(index)) throw new Error(`building the workbench UI did not write ${index}; check build.outDir in ${configFile}`);
  return outDir;
}

function mtimeOf(file: string): number | null {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

/** The newest modification time of the files below dir that go into the bundle (0 when none). */
function newestFile(dir: string): number {
  let newest = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (NOT_BUILT.test(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestFile(full));
    else if (entry.isFile()) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}
