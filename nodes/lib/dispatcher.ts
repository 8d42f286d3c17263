/**
 * The config node's request gate: at most `maxConcurrent` requests run at once, at most
 * `queueLength` wait behind them, and a full queue is resolved by the overflow policy. A gateway
 * that keeps taking camera frames while the server is slow or down must not grow without bound.
 */

export type OverflowPolicy = 'drop-oldest' | 'drop-newest' | 'error';

export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['drop-oldest', 'drop-newest', 'error'];

export interface DispatcherOptions {
  maxConcurrent: number;
  queueLength: number;
  overflow: OverflowPolicy;
}

const CODES = {
  dropped: 'DROPPED',
  'queue-full': 'QUEUE_FULL',
  aborted: 'ABORTED',
  closed: 'CLOSED',
} as const;

/** Why a job never ran: the queue was full, the caller gave up, or the dispatcher was closed. */
export class NotDispatchedError extends Error {
  override readonly name = 'NotDispatchedError';
  /** For Catch flows to branch on (msg.error.code), in the style of ApiError's codes. */
  readonly code: (typeof CODES)[keyof typeof CODES];

  constructor(
    /** `dropped`: discarded by a drop policy, which the user chose; not an error of the message. */
    readonly reason: keyof typeof CODES,
    message: string,
  ) {
    super(message);
    this.code = CODES[reason];
  }
}

export type Job<T> = (signal: AbortSignal) => Promise<T>;

interface Waiting {
  start: () => void;
  reject: (err: NotDispatchedError) => void;
}

/** The texts of NotDispatchedError, per reason: they come from the locale catalogs. */
export type DispatcherMessages = Record<NotDispatchedError['reason'], string>;

export class Dispatcher {
  private running = 0;
  private readonly queue: Waiting[] = [];
  private closed = false;

  constructor(
    private readonly options: DispatcherOptions,
    private readonly messages: DispatcherMessages,
  ) {}

  /** Runs `job` when a slot is free. `signal` cancels it while it waits and is handed to it when it runs. */
  submit<T>(job: Job<T>, signal: AbortSignal): Promise<T> {
    if (this.closed) return Promise.reject(this.notDispatched('closed'));
    if (signal.aborted) return Promise.reject(this.notDispatched('aborted'));
    if (this.running < this.options.maxConcurrent) return this.run(job, signal);

    return new Promise<T>((resolve, reject) => {
      const waiting: Waiting = {
        start: () => {
          signal.removeEventListener('abort', onAbort);
          this.run(job, signal).then(resolve, reject);
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
          oldest.reject(this.notDispatched('dropped'));
        } else {
          reject(this.notDispatched(this.options.overflow === 'error' ? 'queue-full' : 'dropped'));
          return;
        }
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiting);
    });
  }

  /** Rejects every waiting job; running jobs are stopped by closing the client under them. */
  close(): void {
    this.closed = true;
    for (const waiting of this.queue.splice(0)) waiting.reject(this.notDispatched('closed'));
  }

  private async run<T>(job: Job<T>, signal: AbortSignal): Promise<T> {
    this.running++;
    try {
      return await job(signal);
    } finally {
      this.running--;
      if (!this.closed) this.queue.shift()?.start();
    }
  }

  private notDispatched(reason: NotDispatchedError['reason']): NotDispatchedError {
    return new NotDispatchedError(reason, this.messages[reason]);
  }
}
