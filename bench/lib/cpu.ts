import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Linux reports process CPU time in clock ticks; 100 per second on every mainstream kernel. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  ppid: number;
  /** utime + stime. */
  own: number;
  /** cutime + cstime: what children it reaped had used. */
  reaped: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const num = (i: number) => Number(fields[i - 3]);
    return { ppid: num(4), own: num(14) + num(15), reaped: num(16) + num(17) };
  } catch {
    return undefined;
  }
}

/**
 * CPU ticks of a process and every live descendant. Counting reaped children through the parent's
 * cutime/cstime keeps the total right when children come and go between samples (PostgreSQL
 * backends, esbuild helpers).
 */
function treeTicks(root: number, all: Map<number, ProcStat>): number | undefined {
  if (!all.has(root)) return undefined;
  const children = new Map<number, number[]>();
  for (const [pid, stat] of all) {
    const list = children.get(stat.ppid);
    if (list) list.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    const stat = all.get(pid);
    total += stat ? stat.own + stat.reaped : 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

function allStats(): Map<number, ProcStat> {
  const all = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) all.set(Number(entry), stat);
  }
  return all;
}

/** Busy and total jiffies of the whole machine, from the first line of /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

export interface WatchedProcess {
  name: string;
  pid: number;
  /**
   * Include descendants (a PostgreSQL postmaster and its backends). Off for the bench process
   * itself, whose children are services watched on their own.
   */
  tree?: boolean;
}

export interface CpuUse {
  name: string;
  /** Average over the window, in % of one core (200 = two cores busy). */
  avgPct: number;
  /** Busiest one-second sample, in % of one core. */
  peakPct: number;
}

export interface CpuSummary {
  seconds: number;
  cores: number;
  /** Busy share of all cores over the window, 0–100. */
  machineBusyPct: number;
  /** Watched processes, busiest first. */
  processes: CpuUse[];
}

interface Sample {
  at: number;
  ticks: Map<string, number>;
  machine: { busy: number; total: number };
}

/**
 * Samples the CPU time of the processes of a benchmark once a second from /proc, so a scenario
 * can say which process bounds its figure, and how busy the machine was (other work included).
 */
export class CpuSampler {
  private readonly watched: WatchedProcess[] = [];
  private readonly samples: Sample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(processes: WatchedProcess[], intervalMs = 1_000) {
    for (const p of processes) this.watch(p);
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Adds a process started after the sampler (it counts from its first sample). */
  watch(process: WatchedProcess): void {
    if (!this.watched.some((w) => w.name === process.name)) this.watched.push(process);
  }

  private sample(): void {
    const all = allStats();
    const ticks = new Map<string, number>();
    for (const w of this.watched) {
      const t = w.tree === false ? all.get(w.pid)?.own : treeTicks(w.pid, all);
      if (t !== undefined) ticks.set(w.name, t);
    }
    this.samples.push({ at: Date.now(), ticks, machine: machineTicks() });
  }

  /** Stops sampling and summarises the window since the sampler started. */
  stop(): CpuSummary {
    clearInterval(this.timer);
    this.sample();
    const first = this.samples[0]!;
    const last = this.samples.at(-1)!;
    const seconds = Math.max(0.001, (last.at - first.at) / 1000);
    const processes: CpuUse[] = this.watched.map(({ name }) => {
      const seen = this.samples.filter((s) => s.ticks.has(name));
      let peak = 0;
      for (let i = 1; i < seen.length; i++) {
        const dt = (seen[i]!.at - seen[i - 1]!.at) / 1000;
        const d = seen[i]!.ticks.get(name)! - seen[i - 1]!.ticks.get(name)!;
        if (dt > 0.2) peak = Math.max(peak, d / TICKS_PER_SECOND / dt);
      }
      const a = seen[0];
      const b = seen.at(-1);
      const span = a && b ? (b.at - a.at) / 1000 : 0;
      const avg =
        a && b && span > 0 ? (b.ticks.get(name)! - a.ticks.get(name)!) / TICKS_PER_SECOND / span : 0;
      return { name, avgPct: Math.round(avg * 100), peakPct: Math.round(peak * 100) };
    });
    processes.sort((x, y) => y.avgPct - x.avgPct);
    const machine =
      (last.machine.busy - first.machine.busy) / Math.max(1, last.machine.total - first.machine.total);
    return {
      seconds: Math.round(seconds * 10) / 10,
      cores: cpus().length,
      machineBusyPct: Math.round(machine * 100),
      processes,
    };
  }
}

/** One sentence for `notes`: the busiest process, the others, and the machine's load. */
/**
 * CPU time `name` spent per unit of work (request, event), in µs: its average share over the window
 * and the units done per second in it. 0 when the process was not watched.
 */
export function cpuMicrosPer(use: CpuSummary, name: string, perSecond: number): number {
  const avgPct = use.processes.find((p) => p.name === name)?.avgPct ?? 0;
  return Math.round((avgPct * 1e4) / Math.max(1, perSecond));
}

export function describeCpu(summary: CpuSummary): string {
  const listed = summary.processes.map((p) => `${p.name} ${p.avgPct}% (peak ${p.peakPct}%)`).join(', ');
  const ours = summary.processes.reduce((sum, p) => sum + p.avgPct, 0);
  const machinePct = summary.machineBusyPct * summary.cores;
  const others = Math.max(0, machinePct - ours);
  const busiest = summary.processes[0];
  // A Node process is bound by its one JavaScript thread near 100% of a core; a machine near 100%
  // bounds everything on it; otherwise the processes spend their time waiting on each other.
  const reading =
    summary.machineBusyPct >= 90
      ? `the machine was saturated (${others >= 50 ? 'much of it by work outside this benchmark' : 'by these processes'}), so CPU shared by every process bounds the figure`
      : busiest && busiest.avgPct >= 90
        ? `${busiest.name} is CPU-bound`
        : 'no process was CPU-bound, so the figure is bounded by waiting (serial work, batching, round trips)';
  return (
    `CPU over ${summary.seconds} s, in % of one core: ${listed}. ` +
    `Busiest: ${busiest ? `${busiest.name} at ${busiest.avgPct}%` : 'none'}. ` +
    `Machine: ${summary.machineBusyPct}% of ${summary.cores} cores busy, ~${others}% of a core outside these processes: ${reading}.`
  );
}
