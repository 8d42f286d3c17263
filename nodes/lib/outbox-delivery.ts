/**
 * Which failures of a fire-and-forget publish go to the outbox, and the courier that delivers the
 * outbox, oldest first, once the server answers again. No Node-RED import, so that it is tested alone.
 *
 * An entry goes to the outbox only when the server provably did not take its request: the client
 * says the connection failed before the request's last byte left (ApiError.unsent, which also
 * covers a login that failed before the request was sent), or a gateway in front of the server
 * answered 502, 503 or 504. A failure after which the request may have arrived (a reset after the
 * last byte left, a timeout after sending, a 500) ends as before the outbox existed: sending it
 * again could record the detection twice.
 */
import type { PublishRequest } from '../../client/client';
import { ApiError } from '../../client/errors';
import { MAX_RETRY_AFTER_MS, isTransient } from '../../client/retry';
import { NotDispatchedError } from './dispatcher';
import type { Outbox, OutboxEntry, StoredEntry } from './outbox';

/** A gateway's answer that the server behind it did not take the request. */
const GATEWAY_STATUS = new Set([502, 503, 504]);

/** The server provably did not get the request, and may answer later: the detection can be kept. */
export function notTaken(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  if (err.status !== undefined && GATEWAY_STATUS.has(err.status)) return true;
  return err.unsent && isTransient(err);
}

/**
 * For an entry already in the outbox, also a refused login (its request was never sent): the user
 * may fix the password, and the entries should still be there then. Also a request the dispatcher
 * never started (the config node closing, a full queue).
 */
function tryLater(err: unknown): boolean {
  if (err instanceof NotDispatchedError) return true;
  return notTaken(err) || (err instanceof ApiError && err.unsent && err.code === 'AUTH_FAILED');
}

/**
 * detectTimeUtc in the client's form (whole seconds, as client/client.ts sends a Date), fixed before
 * the first attempt: the client would fill an absent time with "now", which for a delivery from the
 * outbox would be the time of the delivery, not of the detection.
 */
export function utcSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** What a publish node sees of its config node's outbox. */
export interface OutboxHolder {
  /** Entries waiting (or being opened at start): while any, new detections queue behind them, in order. */
  readonly waiting: number;
  /**
   * Keeps a detection; rejects when it cannot be stored (the message then fails as it would have).
   * `failed`: its own attempt just failed, so delivery waits a moment before trying the server.
   */
  keep(entry: OutboxEntry, failed: boolean): Promise<void>;
}

/** The outbox of a config node, or undefined when its option is off (or it is no config node of ours). */
export function outboxOf(server: object | undefined): OutboxHolder | undefined {
  const holder = (server as { outbox?: Partial<OutboxHolder> } | undefined)?.outbox;
  return holder && typeof holder.keep === 'function' ? (holder as OutboxHolder) : undefined;
}

/** The request an entry was, to send it again. */
export function requestOf(entry: OutboxEntry): PublishRequest {
  const { expanded, detectorName, ianaTimeZone, detectTimeUtc } = entry;
  return { expanded, detectorName, ianaTimeZone, detectTimeUtc };
}

export interface CourierOptions {
  outbox: Outbox;
  /** Sends one entry (through the config node's dispatcher); resolves once the server took it. */
  send: (entry: StoredEntry) => Promise<void>;
  /** An entry left the outbox undelivered: its request may have reached the server, or was refused. */
  onLost: (err: unknown) => void;
  /** The outbox's directory failed (a full or read-only disk): delivery stops until the next wake. */
  onStorageError: (err: unknown) => void;
  /** The number waiting changed. */
  onChange: () => void;
  /** The first wait after a failure; it doubles up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
}

/**
 * One entry at a time, oldest first: concurrent sends could arrive in another order. After a
 * failure that left the entry in place it waits (doubling from 0.5 s to 10 s, half of it random so
 * that gateways restarted together do not probe together, at least a Retry-After) and tries the
 * same entry again, so the first request that gets through starts the delivery of the rest.
 */
export class Courier {
  private running: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;
  private wakeWaiting: (() => void) | undefined;
  private retryAfterMs: number | undefined;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;

  constructor(private readonly options: CourierOptions) {
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    this.random = options.random ?? Math.random;
  }

  /** Starts delivering unless it already is; `afterFailure`: a send just failed, wait before the first. */
  wake(afterFailure: boolean): void {
    if (this.stopped || this.running) return;
    if (afterFailure) this.failures = Math.max(this.failures, 1);
    this.running = this.run()
      .catch(this.options.onStorageError)
      .finally(() => (this.running = undefined));
  }

  /** No new sends; resolves once the one in flight (if any) has settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeWaiting?.();
    await this.running;
  }

  private async run(): Promise<void> {
    const { outbox, send, onLost, onChange } = this.options;
    while (!this.stopped) {
      if (this.failures > 0) await this.pause(this.delay());
      if (this.stopped) return;
      const entry = await outbox.next();
      if (!entry) return;
      try {
        await send(entry);
        this.failures = 0;
        await outbox.delivered(entry);
      } catch (err) {
        if (tryLater(err)) {
          await outbox.kept(entry);
          this.failures++;
          this.retryAfterMs = err instanceof ApiError ? err.retryAfterMs : undefined;
          continue;
        }
        await outbox.delivered(entry);
        onLost(err);
      } finally {
        onChange();
      }
    }
  }

  private delay(): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (this.failures - 1));
    const jittered = ceiling * (0.5 + this.random() / 2);
    return Math.max(jittered, Math.min(this.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeWaiting = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeWaiting = done;
    });
  }
}
