import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IdentitiesClient, normalizeBaseUrl } from '../../client/client';
import { bypassesProxy, parseProxyUrl } from '../../client/proxy';
import { assertInvalidInput, outcome, utf16String } from './support';

/** User info that stands for a secret: long enough that finding it in a message is no accident. */
const userInfo = fc.record({
  user: fc.stringMatching(/^[a-z]{4,10}$/),
  password: fc.stringMatching(/^[A-Za-z0-9!$&'()*+,;=~_.-]{8,16}$/),
});

const anyUrlText = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true, authoritySettings: { withUserInfo: true } }),
  fc.webUrl({ validSchemes: ['http', 'https'], size: 'small' }),
  fc.string(),
  utf16String(60),
  fc
    .tuple(
      fc.constantFrom(
        'https://',
        'http://',
        'HTTPS://',
        ' https://',
        'ftp://',
        'file://',
        'javascript:',
        '//',
        '',
      ),
      fc.oneof(
        fc.domain(),
        fc.ipV4(),
        fc.ipV6().map((ip) => `[${ip}]`),
        fc.string(),
      ),
      fc.constantFrom(
        '',
        ':5009',
        ':0',
        ':65536',
        ':x',
        '/identities',
        '/identities//',
        '/a/../b',
        '/%2e%2e/',
        '?',
        '#',
        '?a=1',
        '#x',
        ' ',
      ),
    )
    .map((parts) => parts.join('')),
);

describe('property: URLs', () => {
  describe('normalizeBaseUrl', () => {
    it('any text: an http(s) origin and path with no trailing slash, or INVALID_INPUT', () => {
      fc.assert(
        fc.property(anyUrlText, (text) => {
          const result = outcome(() => normalizeBaseUrl(text));
          if (!result.ok) return void assertInvalidInput(result.error, 'configure', /server URL/);
          const url = new URL(result.value);
          assert.ok(url.protocol === 'https:' || url.protocol === 'http:');
          assert.equal(url.username + url.password + url.search + url.hash, '');
          assert.ok(!result.value.endsWith('/'), result.value);
          assert.equal(normalizeBaseUrl(result.value), result.value, 'normalized once is normalized');
        }),
        { numRuns: 3000 },
      );
    });

    it('a URL with credentials is refused, and the message holds neither the user nor the password', () => {
      fc.assert(
        fc.property(fc.webUrl({ validSchemes: ['https', 'http'] }), userInfo, (url, { user, password }) => {
          const withCredentials = url.replace('://', () => `://${user}:${password}@`);
          const result = outcome(() => normalizeBaseUrl(withCredentials));
          assert.ok(!result.ok);
          const error = assertInvalidInput(result.error, 'configure', 'must not contain credentials');
          assert.ok(!error.message.includes(password) && !error.message.includes(user));
        }),
        { numRuns: 500 },
      );
    });

    // e.g. "https://user:secret@exa mple.com/" (a space in the host): the error must not quote it.
    it('a URL with credentials that does not parse: the message holds no credentials', () => {
      fc.assert(
        fc.property(
          fc.constantFrom('https://', 'http://'),
          userInfo,
          fc.constantFrom('exa mple.com', 'host:99999', '[::1', 'a<b>.com', 'host:port'),
          (scheme, { user, password }, host) => {
            const result = outcome(() => normalizeBaseUrl(`${scheme}${user}:${password}@${host}/`));
            assert.ok(!result.ok);
            const error = assertInvalidInput(result.error, 'configure');
            assert.ok(!error.message.includes(password), error.message);
          },
        ),
      );
    });
  });

  describe('parseProxyUrl', () => {
    it('any text: an http: URL whose user name and password can be decoded, or INVALID_INPUT', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            anyUrlText,
            fc
              .tuple(utf16String(8), utf16String(8), fc.constantFrom('proxy:3128', '[::1]:8080', 'p'))
              .map(([user, password, host]) => `http://${user}:${password}@${host}`),
          ),
          (text) => {
            const result = outcome(() => parseProxyUrl(text));
            if (!result.ok) return void assertInvalidInput(result.error, 'configure', /the proxy URL/);
            assert.equal(result.value.protocol, 'http:');
            decodeURIComponent(result.value.username);
            decodeURIComponent(result.value.password);
          },
        ),
        { numRuns: 3000 },
      );
    });

    it('a proxy URL with credentials is refused for its scheme or its %, never quoting the password', () => {
      fc.assert(
        fc.property(
          fc.constantFrom('http', 'https', 'socks5', 'ftp'),
          userInfo,
          fc.constantFrom('', '%', '%zz', '%4'),
          (scheme, { user, password }, tail) => {
            const secret = password + tail;
            const result = outcome(() => parseProxyUrl(`${scheme}://${user}:${secret}@proxy:3128`));
            if (result.ok) return void assert.equal(decodeURIComponent(result.value.password), secret);
            const error = assertInvalidInput(result.error, 'configure');
            assert.ok(!error.message.includes(password), error.message);
          },
        ),
        { numRuns: 500 },
      );
    });

    it('a password with a bare % is INVALID_INPUT, not a URIError from the client (regression)', () => {
      for (const url of [
        'http://user:50%@proxy:3128',
        'http://us%er:x@proxy:3128',
        'http://u:%E0%A4%A@p:1',
      ]) {
        const parsed = outcome(() => parseProxyUrl(url));
        assert.ok(!parsed.ok, url);
        assertInvalidInput(parsed.error, 'configure', /has a % that starts no %XX escape/);
        const client = outcome(
          () => new IdentitiesClient({ baseUrl: 'https://x', username: 'u', password: 'p', proxy: { url } }),
        );
        assert.ok(!client.ok, url);
        assertInvalidInput(client.error, 'configure');
      }
    });
  });

  it('IdentitiesClient: any server and proxy URL give a client or INVALID_INPUT', () => {
    fc.assert(
      fc.property(anyUrlText, fc.option(anyUrlText, { nil: undefined }), (baseUrl, proxyUrl) => {
        const result = outcome(
          () =>
            new IdentitiesClient({
              baseUrl,
              username: 'u',
              password: 'p',
              ...(proxyUrl === undefined ? {} : { proxy: { url: proxyUrl } }),
            }),
        );
        if (result.ok) result.value.close();
        else assertInvalidInput(result.error, 'configure');
      }),
      { numRuns: 1000 },
    );
  });

  describe('bypassesProxy', () => {
    const host = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6(), fc.string(), utf16String(20));
    const port = fc.integer({ min: 0, max: 65535 });
    const entry = fc.oneof(
      fc.string(),
      utf16String(20),
      fc.domain(),
      fc.ipV6(),
      fc.constantFrom('*', '.', '*.', '[', ']', '[]', ':80', '[::1]:x', ' '),
    );

    it('any host, port and list: a boolean, never a throw', () => {
      fc.assert(
        fc.property(host, port, fc.array(entry, { maxLength: 5 }), (h, p, list) => {
          assert.equal(typeof bypassesProxy(h, p, list), 'boolean');
        }),
        { numRuns: 5000 },
      );
    });

    it('a host (name, IPv4 or IPv6) on the list is bypassed whatever its case and port; "*" bypasses all', () => {
      fc.assert(
        fc.property(fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6()), port, fc.boolean(), (h, p, upper) => {
          const listed = upper ? h.toUpperCase() : h;
          assert.ok(bypassesProxy(h, p, [listed]), `${h} in [${listed}]`);
          assert.ok(bypassesProxy(h.includes(':') ? `[${h}]` : h, p, [listed]));
          assert.ok(bypassesProxy(h, p, ['*']));
          assert.ok(!bypassesProxy(h, p, []));
        }),
        { numRuns: 1000 },
      );
    });

    it('with a port, only that port is bypassed; IPv6 in brackets', () => {
      fc.assert(
        fc.property(fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6()), port, port, (h, p, other) => {
          const named = h.includes(':') ? `[${h}]` : h;
          assert.ok(bypassesProxy(h, p, [`${named}:${p}`]));
          assert.equal(bypassesProxy(h, other, [`${named}:${p}`]), other === p);
        }),
        { numRuns: 1000 },
      );
    });

    it('a domain covers its subdomains, on a dot boundary only', () => {
      fc.assert(
        fc.property(fc.domain(), fc.stringMatching(/^[a-z0-9-]{1,10}$/), port, (domain, label, p) => {
          assert.ok(bypassesProxy(`${label}.${domain}`, p, [domain]));
          assert.ok(bypassesProxy(`${label}.${domain}`, p, [`.${domain}`]));
          assert.ok(!bypassesProxy(`${label}${domain}`, p, [domain]));
        }),
        { numRuns: 1000 },
      );
    });

    it('an IPv6 entry without brackets names the address, not a port (regression: "::1" was ":" on port 1)', () => {
      assert.ok(bypassesProxy('::1', 443, ['::1']));
      assert.ok(bypassesProxy('[2001:db8::1]', 80, ['2001:db8::1']));
      assert.ok(bypassesProxy('::1', 8080, ['[::1]:8080']));
      assert.ok(!bypassesProxy('::1', 443, ['[::1]:8080']));
    });
  });
});
