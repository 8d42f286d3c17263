/**
 * A fixed-size pool of worker threads that each run one job at a time, with the worker side of the
 * protocol (`serveWorker`). A worker that dies or overruns its job is terminated and replaced; only
 * the job it held fails.
 */
import { parentPort, Worker } from 'node:worker_threads';

export interface WorkerPoolOptions {
  /** Worker entry module; a .ts file is loaded through tsx. */
  filename: string;
  size: number;
  /**
   * Modules each worker loads before tsx is hooked in. tsx examines every CommonJS file loaded after
   * it, which more than doubles the load time of big bundles: tfjs took 0.65 s instead of 0.25 s.
   */
  preload?: string[];
  /** How long one job may run before its worker is presumed stuck and replaced. */
  jobTimeoutMs?: number;
  /** How long a worker may take to load before it counts as failed. */
  startTimeoutMs?: number;
}

export interface WorkerPoolStats {
  /** Workers ready or loading. */
  workers: number;
  /** Jobs running in a worker right now. */
  busy: number;
  /** Highest `busy` seen since the pool started. */
  peakBusy: number;
  /** Jobs waiting for a free worker. */
  queued: number;
  /** Jobs handed to a worker since the pool started. */
  dispatched: number;
  /** Workers replaced after a crash or a stuck job. */
  restarts: number;
}

export class WorkerCrashError extends Error {
  override readonly name = 'WorkerCrashError';
}

type Reply<Res> =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; result: Res }
  | { type: 'error'; id: number; message: string };

interface Job<Req, Res> {
  id: number;
  request: Req;
  transfer: ArrayBuffer[];
  resolve: (result: Res) => void;
  reject: (error: Error) => void;
}

interface Slot<Req, Res> {
  worker: Worker;
  ready: boolean;
  job: Job<Req, Res> | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Why the pool terminated this worker, when it did. */
  stopped: string | undefined;
}

/** A replacement that cannot even start this many times in a row means the fault is not transient. */
const MAX_FAILED_STARTS = 3;

/**
 * A .ts entry needs tsx inside the worker. Workers do not get a hook that mocha registered with
 * `require: tsx/cjs`, and inheriting the `tsx` CLI's own flags fails too (its `--import` loader sends
 * the entry through the ESM loader before the hooks are up: "Unknown file extension .ts"). Only
 * tsx's CJS hook, and no inherited flags, loads it under both. Compiled .js entries need no hook.
 */
function workerExecArgv(filename: string, preload: string[]): string[] {
  const hooks = filename.endsWith('.ts') ? [require.resolve('tsx/cjs')] : [];
  return [...preload, ...hooks].flatMap((module) => ['--require', module]);
}

export class WorkerPool<Req, Res> {
  private readonly slots: (Slot<Req, Res> | undefined)[];
  private readonly queue: Job<Req, Res>[] = [];
  private readonly failedStarts: number[];
  private nextJobId = 1;
  private closed = false;
  /** Set once all the first workers are up: until then a worker that fails to load fails start(). */
  private started = false;
  private peakBusy = 0;
  private dispatched = 0;
  private restarts = 0;

  private constructor(private readonly options: Required<WorkerPoolOptions>) {
    this.slots = new Array<Slot<Req, Res> | undefined>(options.size).fill(undefined);
    this.failedStarts = new Array<number>(options.size).fill(0);
  }

  /** Resolves once every worker has loaded; rejects (and stops them all) if any fails to load. */
  static async start<Req, Res>(options: WorkerPoolOptions): Promise<WorkerPool<Req, Res>> {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new RangeError(`worker pool size must be a positive integer, got ${options.size}`);
    }
    const pool = new WorkerPool<Req, Res>({
      preload: [],
      jobTimeoutMs: 60_000,
      startTimeoutMs: 60_000,
      ...options,
    });
    try {
      await Promise.all(pool.slots.map((_, index) => pool.spawn(index)));
    } catch (error) {
      await pool.close();
      throw error;
    }
    pool.started = true;
    return pool;
  }

  get stats(): WorkerPoolStats {
    const live = this.slots.filter((slot): slot is Slot<Req, Res> => slot !== undefined);
    return {
      workers: live.length,
      busy: live.filter((slot) => slot.job !== undefined).length,
      peakBusy: this.peakBusy,
      queued: this.queue.length,
      dispatched: this.dispatched,
      restarts: this.restarts,
    };
  }

  /** Runs one job on the next free worker. Buffers in `transfer` are moved, not copied. */
  run(request: Req, transfer: ArrayBuffer[] = []): Promise<Res> {
    if (this.closed) {
      return Promise.reject(new Error('worker pool is closed'));
    }
    if (this.slots.every((slot) => slot === undefined)) {
      return Promise.reject(new WorkerCrashError('no worker could be started'));
    }
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ id: this.nextJobId++, request, transfer, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    const error = new Error('worker pool is closed');
    for (const job of this.queue.splice(0)) {
      job.reject(error);
    }
    const exits: Promise<number>[] = [];
    for (const [index, slot] of this.slots.entries()) {
      if (slot === undefined) {
        continue;
      }
      clearTimeout(slot.timer);
      slot.job?.reject(error);
      this.slots[index] = undefined;
      exits.push(slot.worker.terminate());
    }
    await Promise.all(exits);
  }

  /** Starts the worker for one slot; resolves when it reports ready. */
  private spawn(index: number): Promise<void> {
    const { filename, preload, startTimeoutMs } = this.options;
    const worker = new Worker(filename, { execArgv: workerExecArgv(filename, preload) });
    const slot: Slot<Req, Res> = {
      worker,
      ready: false,
      job: undefined,
      timer: undefined,
      stopped: undefined,
    };
    this.slots[index] = slot;

    return new Promise<void>((resolve, reject) => {
      const failStart = (error: Error): void => {
        clearTimeout(slot.timer);
        slot.timer = undefined;
        reject(error);
      };
      slot.timer = setTimeout(() => {
        failStart(new Error(`worker did not start within ${startTimeoutMs} ms`));
        void worker.terminate();
      }, startTimeoutMs);

      worker.on('message', (reply: Reply<Res>) => {
        if (reply.type === 'ready') {
          clearTimeout(slot.timer);
          slot.timer = undefined;
          slot.ready = true;
          this.failedStarts[index] = 0;
          // An idle worker must not keep the process alive: only a running job holds it.
          worker.unref();
          resolve();
          this.pump();
        } else if (reply.type === 'init-error') {
          failStart(new Error(`worker failed to start: ${reply.message}`));
          void worker.terminate();
        } else {
          this.settle(slot, reply);
        }
      });
      // The 'exit' that always follows an uncaught exception does the cleanup; keep its cause.
      let crash: Error | undefined;
      worker.on('error', (error) => {
        crash = error;
      });
      worker.on('exit', (code) => {
        const reason = slot.stopped ?? crash?.message ?? `exit code ${code}`;
        if (!slot.ready) {
          failStart(new Error(`worker failed to start: ${reason}`));
        }
        this.onExit(index, slot, reason);
      });
    });
  }

  private onExit(index: number, slot: Slot<Req, Res>, reason: string): void {
    clearTimeout(slot.timer);
    if (this.slots[index] !== slot) {
      return; // close() has already let go of it
    }
    this.slots[index] = undefined;
    slot.job?.reject(new WorkerCrashError(`worker died during the job: ${reason}`));
    if (this.closed || (!slot.ready && !this.started)) {
      return;
    }
    if (!slot.ready) {
      this.failedStarts[index]++;
    }
    if (this.failedStarts[index] < MAX_FAILED_STARTS) {
      this.restarts++;
      // A replacement that fails to start lands back here through its own 'exit'.
      this.spawn(index).catch(() => undefined);
    } else if (this.slots.every((other) => other === undefined)) {
      const error = new WorkerCrashError(`no worker could be restarted (${reason})`);
      for (const job of this.queue.splice(0)) {
        job.reject(error);
      }
    }
  }

  private settle(slot: Slot<Req, Res>, reply: Reply<Res>): void {
    const job = slot.job;
    if (job === undefined || !('id' in reply) || reply.id !== job.id) {
      return;
    }
    clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.job = undefined;
    slot.worker.unref();
    if (reply.type === 'result') {
      job.resolve(reply.result);
    } else {
      job.reject(new Error(reply.message));
    }
    this.pump();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) {
        return;
      }
      if (slot === undefined || !slot.ready || slot.job !== undefined) {
        continue;
      }
      const job = this.queue.shift() as Job<Req, Res>;
      slot.job = job;
      slot.worker.ref();
      slot.timer = setTimeout(() => {
        // terminate() interrupts even a synchronous wasm loop; 'exit' then rejects and replaces.
        slot.stopped = `job still running after ${this.options.jobTimeoutMs} ms`;
        void slot.worker.terminate();
      }, this.options.jobTimeoutMs);
      this.dispatched++;
      this.peakBusy = Math.max(this.peakBusy, this.stats.busy);
      slot.worker.postMessage({ id: job.id, request: job.request }, job.transfer);
    }
  }
}

/**
 * The worker side: runs `init` once (model loading), reports ready, then answers each job with
 * `handle`. A job's exception goes back to the caller as that job's error; the worker stays up.
 */
export function serveWorker<Req, Res>(init: () => Promise<(request: Req) => Promise<Res>>): void {
  const port = parentPort;
  if (port === null) {
    throw new Error('serveWorker must run in a worker thread');
  }
  init().then(
    (handle) => {
      port.on('message', (message: { id: number; request: Req }) => {
        handle(message.request).then(
          (result) => port.postMessage({ type: 'result', id: message.id, result }),
          (error: unknown) =>
            port.postMessage({
              type: 'error',
              id: message.id,
              message: error instanceof Error ? error.message : String(error),
            }),
        );
      });
      port.postMessage({ type: 'ready' });
    },
    (error: unknown) => {
      port.postMessage({
        type: 'init-error',
        message: error instanceof Error ? error.message : String(error),
      });
    },
  );
}
