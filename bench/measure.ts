/**
 * How one run is measured: a closed loop keeping `concurrency` requests in flight, the benchmark
 * process's CPU (process.cpuUsage: the client's cost, the emulator runs elsewhere), the machine's
 * CPU from /proc/stat (what other processes took meanwhile), and RSS sampled while it runs.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A full GC between runs, so one run's garbage is not collected on the next one's clock. */
export const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

export interface LoopResult {
  count: number;
  errors: number;
  latenciesMs: number[];
  firstError?: string;
}

/** Runs `issue` in `concurrency` chains until `done(completed)` says stop. */
export async function closedLoop(
  concurrency: number,
  done: (completed: number) => boolean,
  issue: () => Promise<void>,
): Promise<LoopResult> {
  const result: LoopResult = { count: 0, errors: 0, latenciesMs: [] };
  const chain = async (): Promise<void> => {
    while (!done(result.count)) {
      const start = performance.now();
      try {
        await issue();
      } catch (err) {
        result.errors++;
        result.firstError ??= err instanceof Error ? err.message : String(err);
      }
      result.latenciesMs.push(performance.now() - start);
      result.count++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, chain));
  return result;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Busy CPU seconds of the whole machine so far (every core), from the first line of /proc/stat. */
export function machineBusySeconds(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/).slice(1);
    if (!fields) return undefined;
    const ticks = fields.map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
    // USER_HZ is 100 on every Linux the benchmark runs on.
    return (user + nice + system + irq + softirq + steal) / 100;
  } catch {
    return undefined;
  }
}

/**
 * The highest RSS seen while it runs. Reading RSS took ~0.4 ms on the benchmark machine (a
 * /proc read), so runs sample it every 100 ms: at 20 ms it cost ~80 us per 200 KB request.
 */
export class RssSampler {
  peak = process.memoryUsage.rss();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 100) {
    this.timer = setInterval(() => {
      this.peak = Math.max(this.peak, process.memoryUsage.rss());
    }, intervalMs);
  }

  stop(): number {
    clearInterval(this.timer);
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
    return this.peak;
  }
}
