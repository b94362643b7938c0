// The built renderer's files, served read-only: no directory listing, nothing outside the folder.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

export type StaticAnswer = { status: 200; file: string; size: number; contentType: string } | { status: 400 | 403 | 404; reason: string };

/**
 * Which file a request path names under root (a real path), or why none is served. The raw path
 * is checked, not a normalised one: `..` in any spelling (`%2e%2e`, `..%2f`, backslashes) is refused.
 */
export async function resolveStatic(root: string, rawPath: string): Promise<StaticAnswer> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return { status: 400, reason: 'malformed path' };
  }
  if (decoded.includes('\0')) return { status: 400, reason: 'malformed path' };
  if (decoded.split(/[\\/]/).includes('..')) return { status: 403, reason: 'paths may not leave the UI folder' };
  const relative = decoded === '/' || decoded === '' ? 'index.html' : decoded.replace(/^\/+/, '');
  const candidate = path.resolve(root, relative);
  let real: string;
  let stat: fs.Stats;
  try {
    // Symbolic links must not lead out of the folder either.
    real = await fs.promises.realpath(candidate);
    stat = await fs.promises.stat(real);
  } catch {
    return { status: 404, reason: 'not found' };
  }
  if (!isInside(root, real)) return { status: 403, reason: 'paths may not leave the UI folder' };
  if (!stat.isFile()) return { status: 404, reason: 'not found' };
  return { status: 200, file: real, size: stat.size, contentType: CONTENT_TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream' };
}

/** Sends a resolved file (headers already set by the caller); HEAD gets the headers only. */
export function sendFile(req: http.IncomingMessage, res: http.ServerResponse, answer: Extract<StaticAnswer, { status: 200 }>): void {
  res.writeHead(200, { 'Content-Type': answer.contentType, 'Content-Length': answer.size });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = fs.createReadStream(answer.file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

function isInside(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel !== '' && rel.split(path.sep)[0] !== '..' && !path.isAbsolute(rel);
}
