/**
 * The sentinel: a password and a token planted in the configuration must never appear in an error,
 * a log line or anything reachable from a thrown object, on any error path. The server here is
 * hostile on purpose: it echoes the secrets back in its error bodies and headers.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { IdentitiesClient, type ClientOptions, type DriftReport } from '../../client/client';
import { ApiError } from '../../client/errors';
import { startEmulator, type Emulator } from '../../emulator/server';

const PASSWORD = 'Sentinel-Password-7f3a9c';
const TOKEN_BODY = Buffer.from(
  JSON.stringify({ sub: 'admin', exp: 4102444800, secret: 'sentinel-token' }),
).toString('base64url');
const TOKEN = `eyJhbGciOiJIUzI1NiJ9.${TOKEN_BODY}.U2VudGluZWxUb2tlblNpZ25hdHVyZQ`;
const SECRETS = [PASSWORD, TOKEN, TOKEN_BODY];

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

const echo =
  (status: number): Behaviour =>
  (req, res, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'X-Echo': req.headers.authorization ?? '' });
    res.end(
      JSON.stringify({ detail: `you sent ${req.headers.authorization} and ${body}`, password: PASSWORD }),
    );
  };

describe('sentinel: no secret in any error or log line', () => {
  let server: http.Server;
  let url: string;
  let behaviour: Behaviour = echo(500);
  let emu: Emulator;
  const logs: string[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        if (req.url === '/api/v1/authenticate' && body.includes(PASSWORD)) {
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: TOKEN }));
        } else behaviour(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    emu = await startEmulator({ https: true, engine: 'simple' });
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await emu.close();
  });

  /** Runs a failing call and checks every way the error or the logs could be looked at. */
  async function expectClean(
    options: Partial<ClientOptions>,
    call: (c: IdentitiesClient) => Promise<unknown>,
  ) {
    const client = new IdentitiesClient({
      baseUrl: url,
      username: 'admin',
      password: PASSWORD,
      log: (level, message) => logs.push(`${level} ${message}`),
      ...options,
    });
    try {
      const err = await call(client).then(
        () => assert.fail('the call was expected to fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApiError, `expected an ApiError, got ${inspect(err)}`);
      const views = [
        String(err),
        err.message,
        err.stack ?? '',
        JSON.stringify(err),
        inspect(err, { depth: Infinity, showHidden: true }),
        logs.join('\n'),
      ];
      for (const view of views)
        for (const secret of SECRETS) assert.ok(!view.includes(secret), `leaked in: ${view}`);
      return err;
    } finally {
      client.close();
    }
  }

  const cases: [
    string,
    Behaviour | undefined,
    Partial<ClientOptions>,
    (c: IdentitiesClient) => Promise<unknown>,
  ][] = [
    ['a 500 echoing the secrets', echo(500), {}, (c) => c.listTags()],
    ['a 403 echoing the Authorization header', echo(403), {}, (c) => c.getTag('x')],
    ['a 400 echoing the body', echo(400), {}, (c) => c.createTag({ tagName: PASSWORD })],
    ['a 401 on the replay', echo(401), {}, (c) => c.listTags()],
    ['wrong credentials', undefined, { password: `${PASSWORD}-wrong` }, (c) => c.listTags()],
    [
      'a redirect to a URL with the token',
      (_req, res) => res.writeHead(302, { Location: `https://evil.invalid/?t=${TOKEN}` }).end(),
      {},
      (c) => c.listTags(),
    ],
    [
      'a body that is not JSON',
      (_req, res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`token ${TOKEN}`),
      {},
      (c) => c.listTags(),
    ],
    ['a timeout', () => undefined, { timeoutMs: 100 }, (c) => c.listTags()],
    ['an abort', () => undefined, {}, (c) => c.listTags({}, { signal: AbortSignal.timeout(50) })],
    ['invalid input', echo(500), {}, (c) => c.faceDetect({ image: `not an image ${PASSWORD}` })],
  ];

  for (const [name, serverBehaviour, options, call] of cases) {
    it(name, async () => {
      if (serverBehaviour) behaviour = serverBehaviour;
      await expectClean(options, call);
    });
  }

  it('connection refused', async () => {
    const err = await expectClean({ baseUrl: 'http://127.0.0.1:1' }, (c) => c.listTags());
    assert.equal(err.code, 'NETWORK');
  });

  it('an untrusted certificate', async () => {
    const err = await expectClean({ baseUrl: emu.url }, (c) => c.listTags());
    assert.equal(err.code, 'TLS');
  });

  it('drift reports name fields and types, never the values', async () => {
    behaviour = (_req, res) =>
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify([{ tagName: [PASSWORD], token: TOKEN }]));
    const reports: DriftReport[] = [];
    const client = new IdentitiesClient({
      baseUrl: url,
      username: 'admin',
      password: PASSWORD,
      onDrift: (report) => reports.push(report),
    });
    try {
      await client.listTags();
    } finally {
      client.close();
    }
    const text = JSON.stringify(reports);
    assert.deepEqual(
      reports.map((report) => `${report.operation} ${report.field}`),
      ['authenticate username', 'listTags [].tagName', 'listTags [].token'],
    );
    for (const secret of [PASSWORD, TOKEN]) assert.ok(!text.includes(secret), `leaked in: ${text}`);
  });

  it('scrubs the secrets out of the server text but keeps the rest', async () => {
    behaviour = echo(500);
    const err = await expectClean({}, (c) => c.listTags());
    assert.match(err.message, /HTTP 500: you sent Bearer \*\*\* and/);
  });
});
