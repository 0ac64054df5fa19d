import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from './build';

/** The budget of the JavaScript a first visit downloads (gzipped), whatever the page. */
const BUDGET_BYTES = 200 * 1024;

interface ManifestChunk {
  file: string;
  isEntry?: boolean;
  imports?: string[];
}

describe('dashboard bundle', () => {
  let outDir: string;
  let manifest: Record<string, ManifestChunk>;

  beforeAll(async () => {
    // A build of its own, with a manifest, so the check neither needs nor disturbs dist/.
    outDir = await mkdtemp(join(tmpdir(), 'tidemark-dashboard-'));
    await buildDashboard({ outDir, manifest: true });
    manifest = JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8'));
  });

  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it(`loads at most ${BUDGET_BYTES / 1024} KiB of gzipped JavaScript initially`, async () => {
    // The entry and every chunk it imports statically: what index.html makes the browser fetch
    // before the page can work (chunks behind dynamic imports come later, if ever).
    const initial = new Set<string>();
    const visit = (key: string) => {
      const chunk = manifest[key]!;
      if (initial.has(chunk.file)) return;
      initial.add(chunk.file);
      chunk.imports?.forEach(visit);
    };
    Object.entries(manifest)
      .filter(([, chunk]) => chunk.isEntry)
      .forEach(([key]) => visit(key));

    const html = await readFile(join(outDir, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script[^>]+src="\/([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) expect(initial).toContain(src);

    let total = 0;
    for (const file of initial) {
      if (!file.endsWith('.js')) continue;
      total += gzipSync(await readFile(join(outDir, file)), { level: 9 }).length;
    }
    console.log(`dashboard initial JS: ${(total / 1024).toFixed(1)} KiB gzipped in ${initial.size} file(s)`);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(BUDGET_BYTES);
  });
});
