/**
 * The config node's request gate: at most `maxConcurrent` requests run at once, at most
 * `queueLength` wait behind them, and a full queue is resolved by the overflow policy. A message
 * still waiting `maxAgeMs` after it arrived is dropped: a face from a minute ago opens no door. A
 * 429 from the server pauses the whole gate, so that one busy server is not hammered by every node
 * using it. A gateway that keeps taking camera frames while the server is slow or down must not
 * grow without bound.
 */

import { MAX_RETRY_AFTER_MS } from '../../client/retry';

export type OverflowPolicy = 'drop-oldest' | 'drop-newest' | 'error';

export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['drop-oldest', 'drop-newest', 'error'];

export interface DispatcherOptions {
  maxConcurrent: number;
  queueLength: number;
  overflow: OverflowPolicy;
  /** A job not started this long after it was submitted is dropped as `expired`. */
  maxAgeMs: number;
}

const CODES = {
  dropped: 'DROPPED',
  expired: 'EXPIRED',
  'queue-full': 'QUEUE_FULL',
  aborted: 'ABORTED',
  closed: 'CLOSED',
} as const;

/** Why a job never ran: the queue was full, it waited too long, the caller gave up, or the dispatcher was closed. */
export class NotDispatchedError extends Error {
  override readonly name = 'NotDispatchedError';
  /** For Catch flows to branch on (msg.error.code), in the style of ApiError's codes. */
  readonly code: (typeof CODES)[keyof typeof CODES];

  constructor(
    /** `dropped` and `expired`: discarded as the user's settings say; not an error of the message. */
    readonly reason: keyof typeof CODES,
    message: string,
  ) {
    super(message);
    this.code = CODES[reason];
  }

  /** A drop the user chose (an overflow policy or the max age): counted and warned, not a failure. */
  get isDrop(): boolean {
    return this.reason === 'dropped' || this.reason === 'expired';
  }
}

/** The job gets the caller's signal and the instant past which it should not wait for retries. */
export type Job<T> = (signal: AbortSignal, deadline: number) => Promise<T>;

interface Waiting {
  deadline: number;
  start: () => void;
  reject: (err: NotDispatchedError) => void;
}

/** The texts of NotDispatchedError, per reason: they come from the locale catalogs. */
export type DispatcherMessages = Record<NotDispatchedError['reason'], string>;

/** How often waiting jobs are checked for age while nothing else moves the queue (a pause, a stalled server). */
const EXPIRY_SWEEP_MS = 1000;
/** The longest pause a Retry-After can impose (the client waits no longer for one either): a bogus header must not silence a server for hours. */
export const MAX_PAUSE_MS = MAX_RETRY_AFTER_MS;

export class Dispatcher {
  private running = 0;
  private readonly queue: Waiting[] = [];
  private closed = false;
  private pausedUntil = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: DispatcherOptions,
    private readonly messages: DispatcherMessages,
    /** Told of every drop (overflow or age), to count it where the user sees it. */
    private readonly onDrop: (reason: 'dropped' | 'expired') => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `job` when a slot is free. `signal` cancels it while it waits and is handed to it when it runs. */
  submit<T>(job: Job<T>, signal: AbortSignal): Promise<T> {
    if (this.closed) return Promise.reject(this.notDispatched('closed'));
    if (signal.aborted) return Promise.reject(this.notDispatched('aborted'));
    const deadline = this.now() + this.options.maxAgeMs;
    if (this.running < this.options.maxConcurrent && !this.paused()) return this.run(job, signal, deadline);

    return new Promise<T>((resolve, reject) => {
      const waiting: Waiting = {
        deadline,
        start: () => {
          signal.removeEventListener('abort', onAbort);
          this.run(job, signal, deadline).then(resolve, reject);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        const index = this.queue.indexOf(waiting);
        if (index >= 0) this.queue.splice(index, 1);
        waiting.reject(this.notDispatched('aborted'));
      };
      if (this.queue.length >= this.options.queueLength) {
        const oldest = this.options.overflow === 'drop-oldest' ? this.queue.shift() : undefined;
        if (oldest) {
          this.drop(oldest, 'dropped');
        } else if (this.options.overflow === 'error') {
          reject(this.notDispatched('queue-full'));
          return;
        } else {
          this.onDrop('dropped');
          reject(this.notDispatched('dropped'));
          return;
        }
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiting);
      this.sweepTimer ??= setInterval(() => this.expire(), EXPIRY_SWEEP_MS).unref();
    });
  }

  /** No job starts for `ms` (a 429's Retry-After, at most MAX_PAUSE_MS); a longer pause already set stands. */
  pause(ms: number): void {
    if (this.closed) return;
    const until = this.now() + Math.min(Math.max(0, ms), MAX_PAUSE_MS);
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.resumeAfterPause();
  }

  /** Rejects every waiting job and stops the timers; running jobs are stopped by closing the client under them. */
  close(): void {
    this.closed = true;
    clearTimeout(this.resumeTimer);
    this.stopSweeping();
    for (const waiting of this.queue.splice(0)) waiting.reject(this.notDispatched('closed'));
  }

  private paused(): boolean {
    return this.now() < this.pausedUntil;
  }

  /** A timer may fire a millisecond early by the wall clock: it waits again for what is left. */
  private resumeAfterPause(): void {
    clearTimeout(this.resumeTimer);
    const left = this.pausedUntil - this.now();
    if (left > 0) this.resumeTimer = setTimeout(() => this.resumeAfterPause(), left);
    else this.startWaiting();
  }

  private async run<T>(job: Job<T>, signal: AbortSignal, deadline: number): Promise<T> {
    this.running++;
    try {
      return await job(signal, deadline);
    } finally {
      this.running--;
      this.startWaiting();
    }
  }

  /** Starts waiting jobs while slots are free and no pause holds them; too old ones are dropped on the way. */
  private startWaiting(): void {
    this.expire();
    while (!this.closed && !this.paused() && this.running < this.options.maxConcurrent) {
      const next = this.queue.shift();
      if (!next) break;
      next.start();
    }
    if (this.queue.length === 0) this.stopSweeping();
  }

  private expire(): void {
    const now = this.now();
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const waiting = this.queue[i] as Waiting;
      if (waiting.deadline <= now) {
        this.queue.splice(i, 1);
        this.drop(waiting, 'expired');
      }
    }
    if (this.queue.length === 0) this.stopSweeping();
  }

  private drop(waiting: Waiting, reason: 'dropped' | 'expired'): void {
    this.onDrop(reason);
    waiting.reject(this.notDispatched(reason));
  }

  private stopSweeping(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  private notDispatched(reason: NotDispatchedError['reason']): NotDispatchedError {
    return new NotDispatchedError(reason, this.messages[reason]);
  }
}
