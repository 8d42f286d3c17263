/**
 * What the property specs share: the one acceptable kind of failure (an INVALID_INPUT ApiError),
 * and an API stand-in on loopback that logs every request in and counts what reached it, so a
 * property can say "nothing was sent" or "this exact path was sent".
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { IdentitiesClient, type ClientOptions } from '../../client/client';
import { ApiError } from '../../client/errors';
import { OPERATIONS } from '../../client/generated/operations';

/** Planted in generated values: no error message may repeat it (it stands for a secret or an image). */
export const CANARY = 'canary-Zq7xW3-value';

/** Keys that have bitten JavaScript code that reads objects it did not build. */
export const POLLUTING_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
];

/** The result of a call that may throw, so a property can look at either side. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export function outcome<T>(work: () => T): Outcome<T> {
  try {
    return { ok: true, value: work() };
  } catch (error) {
    return { ok: false, error };
  }
}

export async function settled<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * Asserts that `error` is a clear error: an INVALID_INPUT ApiError (not a TypeError, RangeError or
 * plain Error) whose message is short and names `what`.
 */
export function assertInvalidInput(error: unknown, operation: string, what?: string | RegExp): ApiError {
  if (!(error instanceof ApiError)) {
    assert.fail(
      `expected an INVALID_INPUT ApiError, got ${error instanceof Error ? error.stack : String(error)}`,
    );
  }
  assert.equal(error.code, 'INVALID_INPUT', error.message);
  assert.equal(error.operation, operation);
  assert.ok(error.message.length <= 400, `a message of ${error.message.length} characters`);
  if (typeof what === 'string') assert.ok(error.message.includes(what), `"${error.message}" names ${what}`);
  else if (what) assert.match(error.message, what);
  return error;
}

/** An unsigned JWT, all the client reads of a token. */
export function jwt(claims: object): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.sig`;
}

export interface RecordedRequest {
  method: string;
  /** As it arrived on the wire: not decoded, not normalized. */
  url: string;
}

export interface FakeApi {
  url: string;
  /** Every request but the logins. */
  requests: RecordedRequest[];
  logins: number;
  client(options?: Partial<ClientOptions>): IdentitiesClient;
  close(): Promise<void>;
}

const AUTHENTICATE = `${OPERATIONS.authenticate.method} ${OPERATIONS.authenticate.path}`;

/** What the stand-in answers a request with: a status, and a body (none when undefined). */
export type FakeAnswer = (request: RecordedRequest) => { status: number; body?: unknown };

/** Answers a login with a token good for a century, and anything else with `answer` (200 `{}`). */
export async function startFakeApi(answer: FakeAnswer = () => ({ status: 200, body: {} })): Promise<FakeApi> {
  const token = jwt({ sub: 'u', iat: Math.floor(Date.now() / 1000), exp: 4_000_000_000 });
  const api: FakeApi = {
    url: '',
    requests: [],
    logins: 0,
    client: (options = {}) =>
      new IdentitiesClient({
        baseUrl: api.url,
        username: 'user',
        password: 'password',
        timeoutMs: 10_000,
        ...options,
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (`${req.method} ${req.url}` === AUTHENTICATE) {
        api.logins++;
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token }));
        return;
      }
      const request = { method: req.method ?? '', url: req.url ?? '' };
      api.requests.push(request);
      const { status, body } = answer(request);
      if (body === undefined) res.writeHead(status).end();
      else res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return api;
}

/** Strings of arbitrary UTF-16 code units, lone surrogates included (fc.string's units never are). */
export const utf16String = (maxLength = 20) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
    maxLength,
  });

/** Any JavaScript value fast-check can make, with every exotic kind on (boxed, Map, Set, null prototype, BigInt, Date, typed and sparse arrays, binary strings), keyed by `key`. */
export function exoticValue(key: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  return fc.anything({
    key,
    withBoxedValues: true,
    withMap: true,
    withSet: true,
    withObjectString: true,
    withNullPrototype: true,
    withBigInt: true,
    withDate: true,
    withTypedArray: true,
    withSparseArray: true,
    stringUnit: 'binary',
  });
}
