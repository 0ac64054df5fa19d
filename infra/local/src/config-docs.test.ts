import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderConfigurationDoc } from './config-docs';

const file = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));

describe('docs/configuration.md', () => {
  it('lists every variable the services read, with its default (run `npm run docs:config` to update)', () => {
    const current = readFileSync(file, 'utf8');
    expect(current).toBe(renderConfigurationDoc(current));
  });
});
