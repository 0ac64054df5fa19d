import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigurationDoc } from './config-docs';

const file = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));
writeFileSync(file, renderConfigurationDoc(readFileSync(file, 'utf8')));
console.log(`wrote ${file}`);
