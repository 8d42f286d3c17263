import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { IdentitiesClient } from '../../client/client';
import { ApiError } from '../../client/errors';
import { bypassesProxy } from '../../client/proxy';
import { startEmulator, type Emulator } from '../../emulator/server';

/** A forward proxy on loopback: CONNECT tunnels and absolute-URI requests, with optional Basic auth. */
async function startProxy(credentials?: string, host = '127.0.0.1') {
  const seen: string[] = [];
  const authorized = (header: string | undefined) =>
    !credentials || header === `Basic ${Buffer.from(credentials).toString('base64')}`;
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (!authorized(req.headers['proxy-authorization'])) return void res.writeHead(407).end();
    const target = new URL(req.url ?? '');
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket) => {
    seen.push(`CONNECT ${req.url}`);
    if (!authorized(req.headers['proxy-authorization']))
      return void client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('proxy', () => {
  let secure: Emulator;
  let plain: Emulator;
  before(async () => {
    [secure, plain] = await Promise.all([
      startEmulator({ engine: 'simple' }),
      startEmulator({ https: false, engine: 'simple' }),
    ]);
  });
  after(async () => {
    await Promise.all([secure.close(), plain.close()]);
  });

  const use = async (
    emu: Emulator,
    proxyUrl: string,
    noProxy: string[] = [],
    call: (c: IdentitiesClient) => Promise<unknown> = (c) => c.listTags(),
  ) => {
    const client = new IdentitiesClient({
      baseUrl: emu.url,
      username: 'admin',
      password: 'admin',
      tls: { ca: secure.ca },
      proxy: { url: proxyUrl, noProxy },
    });
    try {
      return await call(client);
    } finally {
      client.close();
    }
  };

  it('tunnels HTTPS through CONNECT with the proxy credentials, verifying the server', async () => {
    const proxy = await startProxy('pxuser:px pass');
    try {
      const url = proxy.url.replace('//', '//pxuser:px%20pass@');
      assert.deepEqual(await use(secure, url), []);
      assert.ok(proxy.seen.every((line) => line === `CONNECT 127.0.0.1:${secure.port}`));
      assert.ok(proxy.seen.length >= 1);
    } finally {
      await proxy.close();
    }
  });

  it('reaches a proxy at an IPv6 address, for HTTPS and for plain HTTP', async () => {
    const proxy = await startProxy('pxuser:secret', '::1');
    try {
      const url = proxy.url.replace('//', '//pxuser:secret@');
      assert.deepEqual(await use(secure, url), []);
      assert.deepEqual(await use(plain, url), []);
      assert.ok(proxy.seen.includes(`CONNECT 127.0.0.1:${secure.port}`));
      assert.ok(proxy.seen.includes(`GET http://127.0.0.1:${plain.port}/api/v1/Tags`));
    } finally {
      await proxy.close();
    }
  });

  it('forwards plain HTTP as absolute-URI requests', async () => {
    const proxy = await startProxy();
    try {
      assert.deepEqual(await use(plain, proxy.url), []);
      assert.ok(proxy.seen.includes(`GET http://127.0.0.1:${plain.port}/api/v1/Tags`));
    } finally {
      await proxy.close();
    }
  });

  it('connects directly to hosts on the no-proxy list', async () => {
    const proxy = await startProxy();
    try {
      assert.deepEqual(await use(secure, proxy.url, ['localhost', '127.0.0.1']), []);
      assert.deepEqual(proxy.seen, []);
    } finally {
      await proxy.close();
    }
  });

  it('says so when the proxy refuses its credentials, without the password', async () => {
    const proxy = await startProxy('pxuser:right');
    try {
      const url = proxy.url.replace('//', '//pxuser:wrong-proxy-secret@');
      await assert.rejects(use(secure, url), (err: unknown) => {
        assert.ok(err instanceof ApiError);
        assert.equal(err.code, 'NETWORK');
        assert.equal(err.causeCode, 'ERR_PROXY_AUTH');
        assert.match(err.message, /the proxy refused its credentials/);
        assert.ok(
          !JSON.stringify(err).includes('wrong-proxy-secret') &&
            !String(err.stack).includes('wrong-proxy-secret'),
        );
        return true;
      });
    } finally {
      await proxy.close();
    }
  });

  it('refuses a proxy URL that is not http://', () => {
    assert.throws(
      () =>
        new IdentitiesClient({
          baseUrl: 'https://x',
          username: 'u',
          password: 'p',
          proxy: { url: 'socks5://p:1080' },
        }),
      /the proxy URL must start with http:\/\//,
    );
  });

  it('matches no-proxy entries like curl does', () => {
    const cases: [string, number, string[], boolean][] = [
      ['api.example.com', 443, ['example.com'], true],
      ['api.example.com', 443, ['.example.com'], true],
      ['example.com', 443, ['.example.com'], true],
      ['notexample.com', 443, ['example.com'], false],
      ['example.com', 443, ['example.com:5009'], false],
      ['example.com', 5009, ['example.com:5009'], true],
      ['10.0.0.5', 5009, ['10.0.0.5'], true],
      ['anything', 1, ['*'], true],
      ['anything', 1, [' ', ''], false],
    ];
    for (const [host, port, list, expected] of cases)
      assert.equal(bypassesProxy(host, port, list), expected, `${host}:${port} ${list}`);
  });
});
