import assert from 'node:assert/strict';
import { ApiError, type ApiErrorInit } from '../../client/errors';
import { isTransient, RetryPolicy } from '../../client/retry';

const NOW = 1_000_000;

function error(init: Partial<ApiErrorInit>): ApiError {
  return new ApiError({ operation: 'getPerson', code: 'SERVER_ERROR', message: 'x', ...init });
}

const reset = error({ code: 'NETWORK', causeCode: 'ECONNRESET' });
const refused = error({ code: 'NETWORK', causeCode: 'ECONNREFUSED', unsent: true });

describe('retry policy', () => {
  it('tells transient failures from answers', () => {
    const transient = [
      reset,
      error({ code: 'TIMEOUT' }),
      ...[408, 429, 500, 502, 503, 504].map((status) =>
        error({ code: status === 429 ? 'RATE_LIMITED' : 'SERVER_ERROR', status }),
      ),
    ];
    const permanent = [
      error({ code: 'BAD_REQUEST', status: 400 }),
      error({ code: 'AUTH_FAILED', status: 401 }),
      error({ code: 'NOT_FOUND', status: 404 }),
      error({ code: 'SERVER_ERROR', status: 501 }),
      error({ code: 'TLS', causeCode: 'CERT_HAS_EXPIRED', unsent: true }),
      error({ code: 'NETWORK', causeCode: 'ERR_PROXY_AUTH', unsent: true }),
      error({ code: 'ABORTED' }),
      error({ code: 'CLOSED' }),
      error({ code: 'INVALID_INPUT' }),
    ];
    for (const err of transient) assert.equal(isTransient(err), true, `${err.code} ${err.status}`);
    for (const err of permanent) assert.equal(isTransient(err), false, `${err.code} ${err.status}`);
  });

  it('waits a full-jitter backoff that doubles per attempt up to the cap', () => {
    const top = new RetryPolicy({
      random: () => 0.999999,
      baseDelayMs: 100,
      maxDelayMs: 700,
      maxRetries: 9,
      budgetTokens: 100,
    });
    const bounds = [0, 1, 2, 3, 4].map((attempt) => top.delayBefore(reset, attempt, true, Infinity, NOW));
    assert.deepEqual(
      bounds.map((delay) => Math.round(delay ?? -1)),
      [100, 200, 400, 700, 700],
    );
    const bottom = new RetryPolicy({ random: () => 0, baseDelayMs: 100 });
    assert.equal(bottom.delayBefore(reset, 2, true, Infinity, NOW), 0);
  });

  it('repeats an operation that is not idempotent only when its request never left', () => {
    const policy = new RetryPolicy({ random: () => 0.5 });
    assert.equal(policy.delayBefore(reset, 0, false, Infinity, NOW), undefined);
    assert.equal(policy.delayBefore(error({ code: 'TIMEOUT' }), 0, false, Infinity, NOW), undefined);
    assert.equal(policy.delayBefore(error({ status: 503 }), 0, false, Infinity, NOW), undefined);
    assert.equal(typeof policy.delayBefore(refused, 0, false, Infinity, NOW), 'number');
  });

  it('gives up after maxRetries, and never retries an answer', () => {
    const policy = new RetryPolicy({ maxRetries: 2, random: () => 0.5 });
    assert.equal(typeof policy.delayBefore(reset, 1, true, Infinity, NOW), 'number');
    assert.equal(policy.delayBefore(reset, 2, true, Infinity, NOW), undefined);
    assert.equal(
      policy.delayBefore(error({ code: 'NOT_FOUND', status: 404 }), 0, true, Infinity, NOW),
      undefined,
    );
  });

  it('waits at least a Retry-After, and gives up on one longer than allowed', () => {
    const policy = new RetryPolicy({ random: () => 0, maxRetryAfterMs: 5000 });
    const limited = (retryAfterMs: number) => error({ code: 'RATE_LIMITED', status: 429, retryAfterMs });
    assert.equal(policy.delayBefore(limited(1500), 0, true, Infinity, NOW), 1500);
    assert.equal(policy.delayBefore(limited(6000), 0, true, Infinity, NOW), undefined);
  });

  it('does not wait past the deadline', () => {
    const policy = new RetryPolicy({ random: () => 0 });
    const limited = error({ code: 'RATE_LIMITED', status: 429, retryAfterMs: 2000 });
    assert.equal(policy.delayBefore(limited, 0, true, NOW + 1999, NOW), undefined);
    assert.equal(policy.delayBefore(limited, 0, true, NOW + 2001, NOW), 2000);
  });

  it('spends a budget in an outage and earns it back with successes', () => {
    const policy = new RetryPolicy({ random: () => 0, budgetTokens: 10, budgetTokenRatio: 0.1 });
    const allowed = Array.from({ length: 8 }, () => policy.delayBefore(reset, 0, true, Infinity, NOW));
    // 10 tokens, retries while more than 5 are left: the first four failures are retried.
    assert.deepEqual(
      allowed.map((delay) => delay !== undefined),
      [true, true, true, true, false, false, false, false],
    );
    // Answers (a 404) cost nothing; successes earn a tenth each.
    policy.delayBefore(error({ code: 'NOT_FOUND', status: 404 }), 0, true, Infinity, NOW);
    assert.equal(policy.budget, 2);
    // A failure costs its token before the check: 7 tokens leave 6, more than half.
    for (let i = 0; i < 50; i++) policy.succeeded();
    assert.equal(Math.round(policy.budget * 10), 70);
    assert.equal(typeof policy.delayBefore(reset, 0, true, Infinity, NOW), 'number');
  });
});
