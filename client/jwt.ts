/**
 * Reads the timing claims of a JWT without verifying it: the client only needs to know when to renew,
 * the server does the verifying.
 */

export interface TokenTiming {
  /** Seconds since the epoch, from the `exp` claim. */
  exp?: number;
  /** Seconds since the epoch, from the `iat` claim. */
  iat?: number;
}

/** The largest time a Date can hold, in ms from the epoch either way (ECMA-262 21.4.1.1). */
const MAX_DATE_MS = 8.64e15;

export function decodeTokenTiming(token: string): TokenTiming {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return {};
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return {};
  }
  if (typeof claims !== 'object' || claims === null) return {};
  const { exp, iat } = claims as Record<string, unknown>;
  return {
    exp: typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined,
    iat: typeof iat === 'number' && Number.isFinite(iat) ? iat : undefined,
  };
}

/**
 * When the token expires on this machine's clock. With `iat` present the lifetime is measured from
 * when the token arrived, so a gateway whose clock is off by minutes still renews in time.
 */
export function localExpiry(timing: TokenTiming, receivedAtMs: number): number | undefined {
  if (timing.exp === undefined) return undefined;
  const expiry =
    timing.iat !== undefined && timing.exp > timing.iat
      ? receivedAtMs + (timing.exp - timing.iat) * 1000
      : timing.exp * 1000;
  // A claim like 1e306 overflows to Infinity; past Date's range no clock is anyway, so the
  // answer stays a finite number that orders the same way.
  return Math.min(Math.max(expiry, -MAX_DATE_MS), MAX_DATE_MS);
}
