#!/usr/bin/env node
// Plain JavaScript on purpose: this runs before `npm install` on a fresh clone, installs the
// dependencies when they are missing, then hands over to the TypeScript CLI.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const [major] = process.versions.node.split('.').map(Number);
if (major < 20) {
  console.error(`Tidemark needs Node.js 20 or newer; this is ${process.version}.`);
  process.exit(1);
}
if (!existsSync(join(root, 'node_modules', '.bin', 'tsx'))) {
  console.log('[tidemark] installing npm dependencies (first run)...');
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (install.status !== 0) process.exit(install.status ?? 1);
}
const child = spawnSync(
  process.execPath,
  ['--import', 'tsx', join(root, 'infra', 'local', 'src', 'cli.ts'), ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit' },
);
process.exit(child.status ?? (child.signal ? 1 : 0));
