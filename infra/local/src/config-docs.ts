import type { z } from 'zod';
import { ingestEnv } from '../../../services/ingest/src/config';
import { consumerEnv } from '../../../services/consumer/src/config';
import { apiEnvSchema } from '../../../services/api/src/config';
import { workerEnv } from '../../../services/worker/src/config';

/**
 * docs/configuration.md's table, made from the services' own config schemas, so the page cannot
 * drift from what the services read (a test compares the two).
 */
const SERVICES: Record<string, z.ZodObject> = {
  api: apiEnvSchema,
  ingest: ingestEnv,
  consumer: consumerEnv,
  worker: workerEnv,
};

function defaultOf(schema: z.ZodType): string {
  const result = schema.safeParse(undefined);
  if (!result.success) return '(required)';
  const v = result.data;
  if (v === undefined) return '(unset)';
  if (v === '') return '(empty)';
  if (Array.isArray(v)) return v.length ? v.join(',') : '(empty)';
  return String(v);
}

export function configurationTable(): string {
  const vars = new Map<string, { services: string[]; defaults: Set<string> }>();
  for (const [service, schema] of Object.entries(SERVICES)) {
    for (const [name, field] of Object.entries(schema.shape)) {
      const entry = vars.get(name) ?? { services: [], defaults: new Set<string>() };
      entry.services.push(service);
      entry.defaults.add(defaultOf(field as z.ZodType));
      vars.set(name, entry);
    }
  }
  const rows = [...vars.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([name, e]) =>
        `| \`${name}\` | ${[...e.defaults].map((d) => `\`${d}\``).join(' / ')} | ${e.services.join(', ')} |`,
    );
  return ['| variable | default | read by |', '|---|---|---|', ...rows].join('\n');
}

const BEGIN = '<!-- generated: configuration table -->';
const END = '<!-- end of generated table -->';

export function renderConfigurationDoc(current: string): string {
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  if (start < 0 || end < 0) throw new Error('docs/configuration.md lost its generated-table markers');
  return `${current.slice(0, start + BEGIN.length)}\n${configurationTable()}\n${current.slice(end)}`;
}
