/**
 * The JWT's lifecycle: one token in memory, renewed with renewToken shortly before it expires, a
 * fresh login when it has expired or the server rejected it. Concurrent callers share the one login
 * or renewal in flight, so a burst of 100 requests after expiry makes one authenticate call.
 */
import { decodeTokenTiming, localExpiry } from './jwt';

export interface TokenSource {
  login(): Promise<string>;
  renew(current: string): Promise<string>;
}

export interface TokenManagerOptions {
  /** Renew this long before expiry; by default a fifth of the token's lifetime, at most 60 s. */
  renewBeforeMs?: number;
  now?: () => number;
}

interface HeldToken {
  value: string;
  receivedAt: number;
  expiresAt: number | undefined;
}

export class TokenManager {
  private held: HeldToken | undefined;
  private inflight: Promise<string> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly source: TokenSource,
    private readonly options: TokenManagerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The current token, if any: for scrubbing it out of error texts. */
  get current(): string | undefined {
    return this.held?.value;
  }

  /** A token good for the next request. */
  get(): Promise<string> {
    if (this.inflight) return this.inflight;
    const held = this.held;
    const now = this.now();
    if (held && (held.expiresAt === undefined || now < held.expiresAt)) {
      if (held.expiresAt === undefined || now < held.expiresAt - this.renewWindow(held)) {
        return Promise.resolve(held.value);
      }
      return this.share(() => this.renewOrLogin(held.value));
    }
    this.held = undefined;
    return this.share(() => this.source.login());
  }

  /**
   * Renews the token now, once: the held one while it is valid (get() could renew it itself), else a
   * fresh login's. A failed renewal is not replaced by a login.
   */
  async renewNow(): Promise<void> {
    const held = this.held;
    const valid = held && !this.inflight && (held.expiresAt === undefined || this.now() < held.expiresAt);
    const current = valid ? held.value : await this.get();
    await this.share(() => this.source.renew(current));
  }

  /**
   * The server rejected `rejected`. Forget it unless a newer token already replaced it, so that 50
   * requests failing together with the same old token cause one login, not 50.
   */
  invalidate(rejected: string): void {
    if (this.held?.value === rejected) this.held = undefined;
  }

  clear(): void {
    this.held = undefined;
  }

  private renewWindow(held: HeldToken): number {
    if (this.options.renewBeforeMs !== undefined) return this.options.renewBeforeMs;
    const lifetime = (held.expiresAt ?? held.receivedAt) - held.receivedAt;
    return Math.min(60_000, lifetime / 5);
  }

  private async renewOrLogin(current: string): Promise<string> {
    try {
      return await this.source.renew(current);
    } catch {
      // A token the server will not renew (revoked, or expired in transit) needs a full login.
      return this.source.login();
    }
  }

  private share(obtain: () => Promise<string>): Promise<string> {
    const promise = obtain()
      .then((value) => {
        const receivedAt = this.now();
        this.held = { value, receivedAt, expiresAt: localExpiry(decodeTokenTiming(value), receivedAt) };
        return value;
      })
      .finally(() => {
        if (this.inflight === promise) this.inflight = undefined;
      });
    this.inflight = promise;
    return promise;
  }
}
