import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';

export interface TrackerBuild {
  /** Minified tracker, served as GET /js/script.js. */
  code: string;
  /** Size of `code` gzipped at level 9: the number the 2 KiB budget is about. */
  gzipBytes: number;
  /** Strong ETag header value: `version` in double quotes. */
  etag: string;
  /** 16 base64url characters of the SHA-256 of `code`. */
  version: string;
}

const SOURCE = new URL('./tracker.js', import.meta.url);

async function build(): Promise<TrackerBuild> {
  const source = await readFile(SOURCE, 'utf8');
  const result = await minify(source, {
    ecma: 2020,
    toplevel: true,
    compress: { passes: 2 },
    mangle: { toplevel: true },
    format: { comments: false },
  });
  if (!result.code) throw new Error('terser produced no output for tracker.js');
  const code = result.code;
  const version = createHash('sha256').update(code).digest('base64url').slice(0, 16);
  return { code, gzipBytes: gzipSync(code, { level: 9 }).length, etag: `"${version}"`, version };
}

let cached: Promise<TrackerBuild> | undefined;

/**
 * Minifies tracker.js once per process (call it at service start) and keeps the result in
 * memory: the served script always matches the source of the running code, with nothing built
 * or committed ahead of time. A failed build is not cached, so a retry builds again.
 */
export function buildTracker(): Promise<TrackerBuild> {
  cached ??= build().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}
