import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { isoTime } from './index';

const entry = fileURLToPath(new URL('./index.ts', import.meta.url));

/** Runs `body` in a process of its own with a JSON logger `log`, and returns the lines it wrote. */
function linesOf(body: string) {
  const script = `import { createLogger } from ${JSON.stringify(entry)};
const log = createLogger({ name: 'test', level: 'info', format: 'json' });
${body}`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  expect(run.stderr).toBe('');
  return run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('logger', () => {
  it('censors credentials wherever a line puts them', () => {
    const [line] = linesOf(`log.info({
      token: 'tma_secret', password: 'hunter22', secret: 'whsec_x',
      body: { password: 'p', token: 't', secret: 's', name: 'kept' },
      headers: { authorization: 'Bearer tma_secret' },
      req: { headers: { authorization: 'Bearer tma_secret', host: 'kept' } },
    }, 'credentials');`);
    expect(line).toMatchObject({
      token: '[redacted]',
      password: '[redacted]',
      secret: '[redacted]',
      body: { password: '[redacted]', token: '[redacted]', secret: '[redacted]', name: 'kept' },
      headers: { authorization: '[redacted]' },
      req: { headers: { authorization: '[redacted]', host: 'kept' } },
    });
    expect(JSON.stringify(line)).not.toMatch(/tma_secret|hunter22|whsec_x/);
  });

  it('writes every line, the last one too, when the process exits at once', () => {
    const lines = linesOf(`for (let i = 0; i < 1000; i++) log.info({ i }, 'line');
process.exit(0);`);
    expect(lines).toHaveLength(1000);
    expect(lines.at(-1)).toMatchObject({ i: 999, service: 'test' });
  });
});

describe('isoTime', () => {
  it('renders what pino renders, anew for each millisecond', () => {
    vi.useFakeTimers();
    try {
      for (const at of [0, Date.UTC(2026, 11, 6, 13, 0, 0, 1), Date.UTC(2026, 11, 6, 13, 0, 0, 2)]) {
        vi.setSystemTime(at);
        expect(isoTime()).toBe(pino.stdTimeFunctions.isoTime());
        expect(isoTime()).toBe(`,"time":"${new Date(at).toISOString()}"`);
      }
    } finally {
      vi.useRealTimers();
    }
  });
});
