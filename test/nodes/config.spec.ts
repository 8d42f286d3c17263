import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, Socket, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Emulator } from '../../emulator/server';
import type { NodeMessage } from 'node-red';
import {
  collect,
  credentials,
  emulator,
  eventually,
  face,
  helper,
  helperNodes,
  load,
  loggedTexts,
  nextError,
  nextMessage,
  node,
  PASSWORD,
  send,
  serverNode,
  statuses,
  usersFileWithSecretPassword,
  type FlowNode,
  assertErrorCode,
  type CaughtError,
} from './harness';

function detectNode(id: string, output = `${id}-out`): FlowNode {
  return {
    id,
    type: 'identities-detect',
    server: 'server',
    image: 'payload',
    imageType: 'msg',
    wires: [[output], []],
  };
}

const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;

/** A core TLS configuration; its CA comes in the credentials, as the editor stores an uploaded file. */
const tlsNode: FlowNode = {
  id: 'tls',
  type: 'tls-config',
  cert: '',
  key: '',
  ca: '',
  verifyservercert: true,
};

describe('identities-config', function () {
  let emu: Emulator;
  let image: Buffer;

  before(async function () {
    emu = await emulator({ usersFile: usersFileWithSecretPassword() });
    image = await face(90);
  });

  after(async function () {
    await emu.close();
  });

  afterEach(async function () {
    emu.faults.clear();
    emu.faults.rejectTokens = false;
    await helper.unload();
  });

  const operator = () => credentials('operator', PASSWORD);

  it('gives every node that uses it one client: two nodes log in once', async function () {
    const logins = emu.counts.authenticate ?? 0;
    await load(
      [serverNode(emu), detectNode('a'), detectNode('b'), ...helperNodes('a-out', 'b-out')],
      operator(),
    );
    const outputs = [nextMessage('a-out'), nextMessage('b-out')];
    send('a', { payload: image });
    send('b', { payload: image });
    await Promise.all(outputs);
    const again = nextMessage('b-out');
    send('b', { payload: image });
    await again;
    assert.equal((emu.counts.authenticate ?? 0) - logins, 1);
  });

  it('shows a refused login on every node that uses it, and says why in the error', async function () {
    await load([serverNode(emu), detectNode('a'), detectNode('b'), ...helperNodes('a-out', 'b-out')], {
      server: { username: 'operator', password: 'not-the-password' },
    });
    const loginFailed = { fill: 'red', shape: 'ring', text: 'login failed' };
    // The login at deploy tells every user, before any message.
    await eventually(() => ['a', 'b'].every((id) => statuses(id).at(-1)?.text === 'login failed'));
    assert.deepEqual(statuses('b').at(-1), loginFailed);
    const caught = nextError();
    send('a', { payload: image });
    const error = await caught;
    assertErrorCode(error, 'AUTH_FAILED');
    assert.match(error.message, /wrong username or password for user "operator"/);
    assert.deepEqual(statuses('a').at(-1), loginFailed);
  });

  it('refuses plain http:// unless allowed, before sending anything, and warns when allowed', async function () {
    const logins = emu.counts.authenticate ?? 0;
    await load([serverNode(emu, { allowHttp: false }), detectNode('a'), ...helperNodes('a-out')], operator());
    const caught = nextError();
    send('a', { payload: image });
    const error = await caught;
    assertErrorCode(error, 'INVALID_INPUT');
    assert.match(error.message, /starts with http:\/\/.*use https:\/\/, or check "Allow plain http:\/\/"/);
    assert.equal(emu.counts.authenticate ?? 0, logins);
    await helper.unload();

    await load([serverNode(emu, { allowHttp: true }), detectNode('a'), ...helperNodes('a-out')], operator());
    const out = nextMessage('a-out');
    send('a', { payload: image });
    await out;
    assert.ok(loggedTexts().some((text) => text.includes('Plain http:// is allowed for this server')));
  });

  it('never lets the password or the token out: not in the flows, logs, statuses, errors or messages', async function () {
    await load([serverNode(emu), detectNode('a'), ...helperNodes('a-out')], operator());
    const messages = collect('a-out');
    const errors = collect('errors');
    const out = nextMessage('a-out');
    send('a', { payload: image });
    await out;
    emu.faults.rejectTokens = true;
    const caught = nextError();
    send('a', { payload: image });
    assertErrorCode(await caught, 'AUTH_FAILED');

    const exported = JSON.stringify(helper._redNodes.getFlows());
    assert.ok(exported.includes('operator') === false, 'credentials stay out of flows.json');
    const texts = [exported, JSON.stringify(statuses('a')), JSON.stringify(errors), ...loggedTexts()];
    texts.push(
      JSON.stringify(messages, (key, value: unknown) => (key === 'payload' || key === 'image' ? '' : value)),
    );
    for (const text of texts) {
      assert.ok(!text.includes(PASSWORD), `the password leaked: ${text.slice(0, 200)}`);
      assert.ok(!JWT.test(text), `a token leaked: ${text.slice(0, 200)}`);
    }
  });

  it('says when the server is too slow, or not there at all', async function () {
    this.timeout(20_000);
    emu.faults.add({ fault: { type: 'stall', ms: 1500 } });
    await load([serverNode(emu, { timeout: 1 }), detectNode('a'), ...helperNodes('a-out')], operator());
    // Four attempts of 1 s (a detection is retried 3 times) and their backoff.
    const slow = nextError(10_000);
    send('a', { payload: image });
    const timeout = await slow;
    assertErrorCode(timeout, 'TIMEOUT');
    assert.match(timeout.message, /no answer within 1000 ms/);
    assert.deepEqual(statuses('a').at(-1), { fill: 'red', shape: 'ring', text: 'timed out' });
    await helper.unload();

    await load(
      [serverNode(emu, { baseUrl: 'http://127.0.0.1:9' }), detectNode('a'), ...helperNodes('a-out')],
      operator(),
    );
    const gone = nextError();
    send('a', { payload: image });
    const refused = await gone;
    assertErrorCode(refused, 'NETWORK');
    assert.match(refused.message, /connection refused/);
    assert.deepEqual(statuses('a').at(-1), { fill: 'red', shape: 'ring', text: 'server unreachable' });
  });

  describe('the request queue', function () {
    async function loadQueue(overflow: string) {
      emu.faults.add({ fault: { type: 'stall', ms: 300 } });
      await load(
        [
          serverNode(emu, { maxConcurrent: 1, queueLength: 1, overflow }),
          detectNode('a'),
          ...helperNodes('a-out'),
        ],
        operator(),
      );
      // Logged in before the test starts, so the login does not hold the one slot.
      await eventually(() => (emu.counts.authenticate ?? 0) > 0);
    }

    it('fails the newest message with a clear error when full and told to', async function () {
      await loadQueue('error');
      const outputs = collect('a-out');
      const caught = nextMessage('errors');
      for (const n of [1, 2, 3]) send('a', { payload: image, n });
      const failed = await caught;
      assert.equal(failed.n, 3);
      const error = failed.error as CaughtError;
      assertErrorCode(error, 'QUEUE_FULL');
      assert.match(error.message, /queue full/);
      await eventually(() => outputs.length === 2, 5000);
      assert.deepEqual(
        outputs.map((msg) => msg.n),
        [1, 2],
      );
    });

    it('drops the newest message, without an error, and says so', async function () {
      await loadQueue('drop-newest');
      const outputs = collect('a-out');
      const errors = collect('errors');
      for (const n of [1, 2, 3]) send('a', { payload: image, n });
      await eventually(() => outputs.length === 2, 5000);
      assert.deepEqual(
        outputs.map((msg) => msg.n),
        [1, 2],
      );
      assert.equal(errors.length, 0);
      assert.ok(statuses('a').some((s) => s.fill === 'yellow' && s.text === 'dropped: 1'));
      assert.ok(
        loggedTexts().some((text) => text.includes('1 message(s) dropped in the last 30 s: 1 because')),
      );
    });

    it('drops the oldest waiting message to make room', async function () {
      await loadQueue('drop-oldest');
      const outputs = collect('a-out');
      for (const n of [1, 2, 3]) send('a', { payload: image, n });
      await eventually(() => outputs.length === 2, 5000);
      assert.deepEqual(
        outputs.map((msg) => msg.n),
        [1, 3],
      );
    });

    it('drops messages that waited longer than "give up after", counts them and warns once', async function () {
      // A 429 with a Retry-After longer than the max age: the first message fails (no retry may end
      // past its deadline), and the pause holds the others in the queue until they are too old.
      emu.faults.add({
        operations: ['faceDetect'],
        count: 1,
        fault: { type: 'status', status: 429, retryAfter: 5 },
      });
      await load([serverNode(emu, { maxAge: 1 }), detectNode('a'), ...helperNodes('a-out')], operator());
      await eventually(() => (emu.counts.authenticate ?? 0) > 0);
      const outputs = collect('a-out');
      const detects = emu.counts.faceDetect ?? 0;
      const limited = nextError();
      send('a', { payload: image, n: 1 });
      assertErrorCode(await limited, 'RATE_LIMITED');
      const errors = collect('errors');
      for (const n of [2, 3, 4]) send('a', { payload: image, n });
      await eventually(() => statuses('a').some((s) => s.text === 'dropped: 3'), 5000);
      assert.equal(outputs.length, 0);
      assert.equal(errors.length, 0, 'a drop is not an error');
      // Only the first message reached the server.
      assert.equal(emu.counts.faceDetect, detects + 1);
      const warnings = loggedTexts().filter((text) => text.includes('dropped in the last 30 s'));
      assert.equal(warnings.length, 1, 'one warning; the rest wait for the next 30 s');
      assert.match(warnings[0] ?? '', /because they waited longer than 1 s/);
    });

    it('holds back every node of the server while it answers 429, for its Retry-After', async function () {
      emu.faults.add({
        operations: ['faceDetect'],
        count: 1,
        fault: { type: 'status', status: 429, retryAfter: 1 },
      });
      await load(
        [serverNode(emu), detectNode('a'), detectNode('b'), ...helperNodes('a-out', 'b-out')],
        operator(),
      );
      await eventually(() => (emu.counts.authenticate ?? 0) > 0);
      const answers = [nextMessage('a-out', 8000), nextMessage('b-out', 8000)];
      const detects = emu.counts.faceDetect ?? 0;
      const injected = emu.faults.injected['faceDetect:status'] ?? 0;
      send('a', { payload: image });
      await eventually(() => emu.faults.injected['faceDetect:status'] === injected + 1);
      // The client has read the 429 (and paused the dispatcher) once it says it will try again.
      await eventually(() => loggedTexts().some((text) => text.includes('trying again')));
      send('b', { payload: image });
      // Neither a's retry nor b may reach the server before the second is over.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(emu.counts.faceDetect, detects + 1);
      await Promise.all(answers);
      assert.equal(emu.counts.faceDetect, detects + 3);
    });
  });

  describe('closing during a request', function () {
    it('ends every running and waiting message with an error, within 2 s of a stalled server', async function () {
      emu.faults.add({ operations: ['faceDetect'], fault: { type: 'stall', ms: 30_000 } });
      await load(
        [serverNode(emu, { maxConcurrent: 1 }), detectNode('a'), ...helperNodes('a-out')],
        operator(),
      );
      const outputs = collect('a-out');
      // done(err) reports through node.error(err, msg): recorded here, as the helper's Catch closes with the flow.
      const ended: [unknown, string][] = [];
      const flowNode = node('a');
      const report = flowNode.error.bind(flowNode);
      flowNode.error = (err: unknown, msg?: NodeMessage) => {
        ended.push([msg?.n, err instanceof Error ? err.message : String(err)]);
        report(err, msg);
      };
      const detects = emu.counts.faceDetect ?? 0;
      for (const n of [1, 2, 3]) send('a', { payload: image, n });
      await eventually(() => emu.counts.faceDetect === detects + 1);
      // A redeploy (helper.unload would stop the log spy before the nodes close).
      const started = Date.now();
      await helper.setFlows([], 'full');
      const took = Date.now() - started;
      assert.ok(took < 2000, `closing took ${took} ms`);
      assert.deepEqual(
        ended,
        [1, 2, 3].map((n) => [n, 'the request was cancelled because the node was stopped']),
        'one error per message: the running one and the two waiting',
      );
      assert.equal(outputs.length, 0);
    });

    /**
     * Timers by the runtime's count, sockets by the handles themselves: an idle keep-alive socket
     * is unref'd, so it is missing from getActiveResourcesInfo but would still leak.
     */
    function resources(): Record<string, number> {
      const counts: Record<string, number> = {};
      for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
      const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
      counts.sockets = handles.filter((handle) => handle instanceof Socket).length;
      return counts;
    }

    /** Resources counted outside any timer callback; mocha's own test timer counts once it runs the test. */
    async function settledResources(): Promise<Record<string, number>> {
      await new Promise((resolve) => setImmediate(resolve));
      return resources();
    }

    for (const how of ['stop', 'redeploy'] as const) {
      it(`sends nothing after a ${how} and leaves no timer or socket behind`, async function () {
        const baseline = await settledResources();
        await load(
          [serverNode(emu), detectNode('a'), detectNode('b'), ...helperNodes('a-out', 'b-out')],
          operator(),
        );
        // Two requests at once leave two keep-alive sockets in the pool, idle but open.
        const answered = [nextMessage('a-out'), nextMessage('b-out')];
        send('a', { payload: image });
        send('b', { payload: image });
        await Promise.all(answered);
        emu.faults.add({ fault: { type: 'stall', ms: 400 } });
        const outputs = collect('a-out');
        const errors = collect('errors');
        const requests = emu.counts.faceDetect ?? 0;
        send('a', { payload: image });
        await eventually(() => (emu.counts.faceDetect ?? 0) > requests);
        if (how === 'stop') await helper.unload();
        else await helper.setFlows([], 'full');
        // Past the stalled answer: had anything survived the close, it would act now.
        await new Promise((resolve) => setTimeout(resolve, 600));
        const after = await settledResources();
        assert.equal(outputs.length, 0);
        assert.equal(errors.length, 0);
        for (const name of ['Timeout', 'sockets']) {
          assert.ok(
            (after[name] ?? 0) <= (baseline[name] ?? 0),
            `${name}: ${after[name]} > ${baseline[name]}`,
          );
        }
      });
    }
  });

  describe('"Test connection"', function () {
    let secure: Emulator;

    before(async function () {
      secure = await emulator({ https: true, usersFile: usersFileWithSecretPassword() });
    });

    after(async function () {
      await secure.close();
    });

    async function test(body: Record<string, unknown>): Promise<Record<string, unknown>> {
      const response = await helper.request().post('/identities-config/test').send(body);
      assert.equal(response.status, 200);
      assert.ok(!JSON.stringify(response.body).includes(PASSWORD), 'the answer never holds the password');
      return response.body as Record<string, unknown>;
    }

    beforeEach(async function () {
      await load([serverNode(emu), tlsNode], {
        ...operator(),
        tls: { cadata: secure.ca ?? '' },
      });
    });

    const typed = (settings: Record<string, unknown>) => ({
      baseUrl: emu.url,
      allowHttp: true,
      username: 'operator',
      password: PASSWORD,
      ...settings,
    });

    it('logs in and names the user and the roles', async function () {
      assert.deepEqual(await test(typed({})), {
        result: 'success',
        user: 'operator',
        roles: ['Administrator'],
      });
    });

    it('says when the credentials are wrong', async function () {
      assert.equal((await test(typed({ password: 'wrong-password' }))).result, 'auth');
    });

    it('says when the host is unreachable', async function () {
      assert.equal((await test(typed({ baseUrl: 'http://127.0.0.1:9' }))).result, 'unreachable');
    });

    it('says when the host answers but has no Identities API at that URL', async function () {
      assert.equal((await test(typed({ baseUrl: `${emu.url}/identities` }))).result, 'notFound');
    });

    it('refuses plain http:// that is not allowed, without sending anything', async function () {
      const outcome = await test(typed({ allowHttp: false }));
      assert.equal(outcome.result, 'config');
      assert.match(String(outcome.detail), /http:\/\//);
    });

    it('says when the certificate is not trusted, and succeeds with the CA in a TLS configuration', async function () {
      const untrusted = await test(typed({ baseUrl: secure.url, allowHttp: false }));
      assert.equal(untrusted.result, 'tls');
      assert.match(String(untrusted.detail), /self-signed/);
      const trusted = await test(typed({ baseUrl: secure.url, allowHttp: false, tls: 'tls' }));
      assert.equal(trusted.result, 'success');
    });

    it('uses the stored password for the stored server only', async function () {
      const stored = { id: 'server', username: '', password: '__PWRD__' };
      assert.equal((await test(typed(stored))).result, 'success');
      assert.equal(
        (await test(typed({ ...stored, baseUrl: secure.url, allowHttp: false }))).result,
        'needsPassword',
      );
    });
  });

  describe('a server whose answers differ from the contract', function () {
    let drifting: Server;
    let url = '';
    /** What the fake server answers to getPerson, one after the other. */
    const answers = [
      // personId missing, nickname unknown
      { aliases: [], nickname: 'Ada' },
      // personId of another type (same field, another problem), nickname unknown again
      { personId: 7, aliases: [], nickname: 'Ada' },
    ];

    before(async function () {
      const claims = Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600 })).toString(
        'base64url',
      );
      const token = `eyJhbGciOiJub25lIn0.${claims}.signature`;
      let served = 0;
      drifting = createServer((req, res) => {
        res.setHeader('Content-Type', 'application/json');
        if (req.url === '/api/v1/authenticate') res.end(JSON.stringify({ username: 'operator', token }));
        else res.end(JSON.stringify(answers[Math.min(served++, answers.length - 1)]));
      });
      await new Promise<void>((resolve) => drifting.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(drifting.address() as AddressInfo).port}`;
    });

    after(async function () {
      await new Promise((resolve) => drifting.close(resolve));
    });

    it('warns once per operation and field, naming the operation, the field and the problem', async function () {
      await load(
        [
          { ...serverNode(emu), baseUrl: url, allowHttp: true },
          {
            id: 'people',
            type: 'identities-people',
            server: 'server',
            operation: 'getPerson',
            wires: [['out']],
          },
          ...helperNodes('out'),
        ],
        operator(),
      );
      for (const answer of answers) {
        const out = nextMessage('out');
        send('people', { personId: 'p1' });
        assert.deepEqual((await out).payload, answer, 'the answer is used as it came');
      }
      const drift = loggedTexts().filter((text) => text.includes('differs from what this package expects'));
      assert.equal(drift.length, 2, drift.join('\n'));
      assert.ok(drift.some((text) => /getPerson .*at personId: a required field is missing/.test(text)));
      assert.ok(
        drift.some((text) =>
          /getPerson .*at nickname: a field the package does not know \(string\)/.test(text),
        ),
      );
    });
  });

  describe('the proxy', function () {
    let secure: Emulator;
    let proxy: Server;
    let proxyUrl: string;
    const tunnels: { target: string; authorization: string | undefined }[] = [];
    const sockets = new Set<Duplex>();
    const savedEnvironment = { ...process.env };

    before(async function () {
      secure = await emulator({ https: true, usersFile: usersFileWithSecretPassword() });
      // A CONNECT proxy that records each tunnel and pipes it through.
      proxy = createServer();
      proxy.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
        tunnels.push({ target: req.url ?? '', authorization: req.headers['proxy-authorization'] });
        const [host = '', port = ''] = (req.url ?? '').split(':');
        const upstream = connect(Number(port), host, () => {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          upstream.write(head);
          upstream.pipe(client).pipe(upstream);
        });
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('error', () => socket.destroy());
          socket.on('close', () => sockets.delete(socket));
        }
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    });

    after(async function () {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
      await secure.close();
    });

    afterEach(function () {
      tunnels.length = 0;
      process.env = { ...savedEnvironment };
    });

    async function detectThrough(settings: Record<string, unknown>, extra: FlowNode[] = [], proxyCreds = {}) {
      await load(
        [
          serverNode(secure, { tls: 'tls', ...settings }),
          tlsNode,
          ...extra,
          detectNode('a'),
          ...helperNodes('a-out'),
        ],
        {
          ...operator(),
          tls: { cadata: secure.ca ?? '' },
          ...proxyCreds,
        },
      );
      const out = nextMessage('a-out');
      send('a', { payload: image });
      await out;
    }

    it('tunnels through the core http proxy node, with its credentials, verbatim', async function () {
      const proxyNode: FlowNode = { id: 'proxy', type: 'http proxy', name: '', url: proxyUrl, noproxy: [] };
      await detectThrough({ proxy: 'proxy' }, [proxyNode], {
        proxy: { username: 'gateway', password: 'p@ss:w%41rd' },
      });
      assert.ok(tunnels.length >= 1);
      assert.equal(tunnels[0]!.target, new URL(secure.url).host);
      assert.equal(
        tunnels[0]!.authorization,
        `Basic ${Buffer.from('gateway:p@ss:w%41rd').toString('base64')}`,
      );
      assert.ok(
        !loggedTexts().some((text) => text.includes('p@ss:w%41rd')),
        'the proxy password is not logged',
      );
    });

    it('takes https_proxy from the environment, and no_proxy exempts a host', async function () {
      process.env.https_proxy = proxyUrl;
      await detectThrough({});
      assert.ok(tunnels.length >= 1);
      await helper.unload();

      tunnels.length = 0;
      process.env.no_proxy = 'example.com, 127.0.0.1';
      await detectThrough({});
      assert.equal(tunnels.length, 0);
    });
  });
});
