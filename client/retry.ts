/**
 * When the client tries a request again, and how long it waits first.
 *
 * - Only transient failures: a network error or attempt timeout, or HTTP 408, 429, 500, 502, 503
 *   or 504. A 4xx about the request itself, an auth failure or a certificate problem fails at once.
 * - Only when repeating is harmless: an idempotent operation (the contract's GETs and
 *   `x-idempotent` POSTs), or any operation whose request provably never reached the server (see
 *   `ApiError.unsent`). An enrollment that timed out may have happened: it is not sent again.
 * - Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 *   a random wait in [0, min(cap, base * 2^attempt)), so clients that failed together do not
 *   retry together. A Retry-After from the server is a floor on the wait.
 * - Never past the caller's deadline: a wait that would end after it gives up instead.
 * - A retry budget per client (gRPC's retry throttling): every failure costs a token, every
 *   success earns back `tokenRatio`; retries stop while fewer than half the tokens are left. In
 *   an outage every request fails, the bucket empties and each message costs one request, not
 *   1 + maxRetries; a few lost requests in a healthy stream still get their retries.
 */
import type { ApiError } from './errors';

export interface RetryOptions {
  /** Attempts after the first; 0 turns retries off. Default 3. */
  maxRetries?: number;
  /** The first backoff's upper bound. Default 250 ms. */
  baseDelayMs?: number;
  /** No backoff is longer than this. Default 10 s. */
  maxDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the error goes to the caller. Default 60 s. */
  maxRetryAfterMs?: number;
  /** The budget's size. Default 10. */
  budgetTokens?: number;
  /** What a success earns back. Default 0.1: one retry per ten successes in steady state. */
  budgetTokenRatio?: number;
  /** For tests: a source of numbers in [0, 1). */
  random?: () => number;
}

/** The longest Retry-After worth waiting for; the config node's 429 pause uses the same cap. */
export const MAX_RETRY_AFTER_MS = 60_000;

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** Network errors that a second attempt will meet again. */
const PERMANENT_CAUSES = new Set(['ERR_PROXY_AUTH']);

/** A failure that may pass by itself; a TLS error (a certificate) or a 4xx about the request will not. */
export function isTransient(err: ApiError): boolean {
  if (err.status !== undefined) return RETRYABLE_STATUS.has(err.status);
  if (err.code === 'NETWORK') return !PERMANENT_CAUSES.has(err.causeCode ?? '');
  return err.code === 'TIMEOUT';
}

export class RetryPolicy {
  private readonly maxRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly maxTokens: number;
  private readonly tokenRatio: number;
  private readonly random: () => number;
  private tokens: number;

  constructor(options: RetryOptions = {}) {
    this.maxRetries = options.maxRetries ?? 3;
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS;
    this.maxTokens = options.budgetTokens ?? 10;
    this.tokenRatio = options.budgetTokenRatio ?? 0.1;
    this.random = options.random ?? Math.random;
    this.tokens = this.maxTokens;
  }

  /** The budget left, for tests and diagnostics. */
  get budget(): number {
    return this.tokens;
  }

  succeeded(): void {
    this.tokens = Math.min(this.maxTokens, this.tokens + this.tokenRatio);
  }

  /**
   * After attempt number `attempt` (0 = the first) failed with `err`: how long to wait before the
   * next, or undefined to give up and report `err`. A transient failure costs a budget token;
   * an HTTP answer that is not one (a 404 "nobody matched") earns like a success. `deadline`: no
   * wait may end past it.
   */
  delayBefore(
    err: ApiError,
    attempt: number,
    idempotent: boolean,
    deadline: number,
    now: number,
  ): number | undefined {
    if (!isTransient(err)) {
      // An answer (a 404 "nobody matched") shows the server working, as a success does.
      if (err.status !== undefined) this.succeeded();
      return undefined;
    }
    this.tokens = Math.max(0, this.tokens - 1);
    if (attempt >= this.maxRetries || !(idempotent || err.unsent)) return undefined;
    if (this.tokens <= this.maxTokens / 2) return undefined;
    if (err.retryAfterMs !== undefined && err.retryAfterMs > this.maxRetryAfterMs) return undefined;
    const backoff = this.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
    const delay = Math.max(backoff, err.retryAfterMs ?? 0);
    return now + delay < deadline ? delay : undefined;
  }
}
