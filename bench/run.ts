/**
 * `npm run bench` runs every scenario; `npm run bench -- NAME [NAME...]` runs some. Each scenario
 * measures its own baseline in the same run (these machines are noisy, so only ratios compare
 * across runs), prints one JSON line with its figures as its last line on stdout, and the results
 * are written to BENCHMARKS.md with the machine and the date. Scenarios not run keep their last
 * recorded section.
 */
import { cpus, totalmem } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { api } from './scenarios/api';
import { baseline } from './scenarios/baseline';
import { consumer } from './scenarios/consumer';
import { freshness } from './scenarios/freshness';
import { ingest } from './scenarios/ingest';
import { stats } from './scenarios/stats';
import { webhooks } from './scenarios/webhooks';

export interface ScenarioResult {
  figures: Record<string, number>;
  ratios: Record<string, number>;
  targets: Record<string, number | string>;
  targets_met: boolean;
  /** What bounds the figures, as measured (profile, saturation), for the record. */
  notes?: string;
}

export interface ScenarioContext {
  /** The bare fastify baseline of this run, measured once and shared by the HTTP scenarios. */
  baseline: () => Promise<ScenarioResult>;
}

export interface Scenario {
  name: string;
  description: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

const SCENARIOS: Scenario[] = [baseline, ingest, consumer, freshness, api, webhooks, stats];

const FILE = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));
const MARK = /<!-- results (\{.*\}) -->/;

interface Recorded extends ScenarioResult {
  scenario: string;
  description: string;
  date: string;
  machine: string;
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
}

function render(all: Record<string, Recorded>): string {
  const lines = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (all scenarios) or `npm run bench -- NAME`. Every scenario measures its',
    'baseline in the same run and reports ratios against it, because absolute figures move with the',
    'machine and its load. Targets come from the issue that owns each scenario.',
    '`BENCH_CPU_PROF_DIR=<dir> npm run bench -- NAME` also writes a V8 CPU profile of every service',
    'process it starts (open them in Chrome DevTools or speedscope).',
    '',
  ];
  for (const r of Object.values(all)) {
    lines.push(`## ${r.scenario}`, '', r.description, '', `- date: ${r.date}`, `- machine: ${r.machine}`);
    lines.push(`- targets met: **${r.targets_met ? 'yes' : 'no'}**`, '');
    lines.push('| figure | value |', '|---|---|');
    for (const [k, v] of Object.entries(r.figures)) lines.push(`| ${k} | ${v} |`);
    for (const [k, v] of Object.entries(r.ratios)) lines.push(`| ratio: ${k} | ${v} |`);
    for (const [k, v] of Object.entries(r.targets)) lines.push(`| target: ${k} | ${v} |`);
    if (r.notes) lines.push('', r.notes);
    lines.push('');
  }
  lines.push(`<!-- results ${JSON.stringify(all)} -->`, '');
  return lines.join('\n');
}

async function main() {
  const wanted = process.argv.slice(2).filter((a) => a !== '--');
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.name === w));
  if (unknown.length) {
    console.error(
      `unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
    process.exit(2);
  }
  const selected = wanted.length ? SCENARIOS.filter((s) => wanted.includes(s.name)) : SCENARIOS;
  // Read just before each write: another run may have recorded its scenarios meanwhile.
  const recorded = (): Record<string, Recorded> =>
    existsSync(FILE)
      ? (JSON.parse(MARK.exec(readFileSync(FILE, 'utf8'))?.[1] ?? '{}') as Record<string, Recorded>)
      : {};
  let baselineRun: Promise<ScenarioResult> | undefined;
  const ctx: ScenarioContext = { baseline: () => (baselineRun ??= baseline.run(ctx)) };
  let allMet = true;
  for (const scenario of selected) {
    console.error(`[bench] ${scenario.name}: ${scenario.description}`);
    const result = scenario.name === 'baseline' ? await ctx.baseline() : await scenario.run(ctx);
    allMet &&= result.targets_met;
    const previous = recorded();
    previous[scenario.name] = {
      scenario: scenario.name,
      description: scenario.description,
      date: new Date().toISOString(),
      machine: machine(),
      ...result,
    };
    writeFileSync(FILE, render(previous));
    console.log(JSON.stringify({ scenario: scenario.name, ...result }));
  }
  if (!allMet) console.error('[bench] some targets were not met; see BENCHMARKS.md');
}

await main();
