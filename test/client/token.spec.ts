import assert from 'node:assert/strict';
import { ApiError } from '../../client/errors';
import { IdentitiesClient } from '../../client/client';
import { TokenManager, type TokenSource } from '../../client/token';
import { startEmulator, type Emulator } from '../../emulator/server';

let issued = 0;
/** An unsigned JWT with the given timing claims (seconds), all the client reads; unique like a real one. */
function jwt(claims: { iat?: number; exp?: number }): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ sub: 'u', jti: ++issued, ...claims })}.sig`;
}

class FakeSource implements TokenSource {
  logins = 0;
  renewals = 0;
  failRenewal = false;
  constructor(
    private readonly clock: { now: number },
    private readonly lifetimeS: number,
  ) {}
  private issue(): string {
    const iat = Math.floor(this.clock.now / 1000);
    return jwt({ iat, exp: iat + this.lifetimeS });
  }
  async login(): Promise<string> {
    this.logins++;
    return this.issue();
  }
  async renew(): Promise<string> {
    this.renewals++;
    if (this.failRenewal) throw new Error('renewal refused');
    return this.issue();
  }
}

describe('TokenManager (fake clock)', () => {
  const setup = (lifetimeS = 100, renewBeforeMs?: number) => {
    const clock = { now: 1_000_000_000_000 };
    const source = new FakeSource(clock, lifetimeS);
    const tokens = new TokenManager(source, { now: () => clock.now, renewBeforeMs });
    return { clock, source, tokens };
  };

  it('logs in once, then reuses the token until the renewal window', async () => {
    const { clock, source, tokens } = setup(100);
    const first = await tokens.get();
    clock.now += 79_000; // the default window is a fifth of the lifetime: 20 s
    assert.equal(await tokens.get(), first);
    assert.deepEqual([source.logins, source.renewals], [1, 0]);
  });

  it('renews with renewToken inside the window, not with a login', async () => {
    const { clock, source, tokens } = setup(100);
    const first = await tokens.get();
    clock.now += 81_000;
    const renewed = await tokens.get();
    assert.notEqual(renewed, first);
    assert.deepEqual([source.logins, source.renewals], [1, 1]);
  });

  it('logs in again once the token has expired', async () => {
    const { clock, source, tokens } = setup(100);
    await tokens.get();
    clock.now += 100_001;
    await tokens.get();
    assert.deepEqual([source.logins, source.renewals], [2, 0]);
  });

  it('falls back to a login when the renewal is refused', async () => {
    const { clock, source, tokens } = setup(100);
    await tokens.get();
    source.failRenewal = true;
    clock.now += 90_000;
    await tokens.get();
    assert.deepEqual([source.logins, source.renewals], [2, 1]);
  });

  it('renewNow: renews the held token once, inside the window too; a refused renewal fails, with no login', async () => {
    const { clock, source, tokens } = setup(100);
    await tokens.renewNow();
    assert.deepEqual([source.logins, source.renewals], [1, 1], 'a login first, then the renewal');
    clock.now += 81_000;
    const held = tokens.current;
    await tokens.renewNow();
    assert.deepEqual([source.logins, source.renewals], [1, 2], "one renewal, not get()'s and its own");
    assert.notEqual(tokens.current, held);
    source.failRenewal = true;
    await assert.rejects(tokens.renewNow(), /renewal refused/);
    assert.deepEqual([source.logins, source.renewals], [1, 3]);
  });

  it('shares one login among concurrent callers', async () => {
    const { source, tokens } = setup();
    const all = await Promise.all(Array.from({ length: 100 }, () => tokens.get()));
    assert.equal(new Set(all).size, 1);
    assert.equal(source.logins, 1);
  });

  it('forgets a rejected token only if no newer one replaced it', async () => {
    const { source, tokens } = setup();
    const old = await tokens.get();
    tokens.invalidate(old);
    const fresh = await tokens.get();
    tokens.invalidate(old); // a late 401 for the old token
    assert.equal(await tokens.get(), fresh);
    assert.equal(source.logins, 2);
  });

  it('measures the lifetime from arrival when the server clock is off', async () => {
    const clock = { now: 1_000_000_000_000 };
    const serverAheadS = 3600;
    const source: TokenSource = {
      login: async () => {
        const iat = Math.floor(clock.now / 1000) + serverAheadS;
        return jwt({ iat, exp: iat + 100 });
      },
      renew: async () => assert.fail('no renewal expected'),
    };
    const tokens = new TokenManager(source, { now: () => clock.now });
    const first = await tokens.get();
    clock.now += 50_000;
    assert.equal(await tokens.get(), first);
  });

  it('keeps a token without exp until the server rejects it', async () => {
    let logins = 0;
    const tokens = new TokenManager({
      login: async () => `opaque.${++logins}.token`,
      renew: async () => assert.fail('no renewal expected'),
    });
    const first = await tokens.get();
    assert.equal(await tokens.get(), first);
    tokens.invalidate(first);
    assert.notEqual(await tokens.get(), first);
    assert.equal(logins, 2);
  });
});

describe('token rules against the emulator', () => {
  let emu: Emulator;
  const clients: IdentitiesClient[] = [];
  const client = (options: Partial<ConstructorParameters<typeof IdentitiesClient>[0]> = {}) => {
    const made = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin', ...options });
    clients.push(made);
    return made;
  };
  const count = (operation: string) => emu.counts[operation] ?? 0;
  const burst = (n: number, call: () => Promise<unknown>) => Promise.all(Array.from({ length: n }, call));

  beforeEach(async () => {
    emu = await startEmulator({ https: false, engine: 'simple', tokenLifetimeSeconds: 2 });
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await emu.close();
  });

  it('100 concurrent calls with no token make exactly 1 authenticate call', async () => {
    const c = client();
    await burst(100, () => c.listTags());
    assert.equal(count('authenticate'), 1);
    assert.equal(count('listTags'), 100);
  });

  it('100 concurrent calls with an expired token make exactly 1 authenticate call', async () => {
    const c = client();
    await c.login();
    await new Promise((resolve) => setTimeout(resolve, 2100)); // past the 2 s lifetime
    await burst(100, () => c.listTags());
    assert.equal(count('authenticate'), 2);
    assert.equal(count('renewToken'), 0);
    assert.equal(count('listTags'), 100);
  });

  it('50 concurrent 401s make 1 re-login and 50 replays', async () => {
    const c = client({ renewBeforeMs: 0 });
    await c.login();
    emu.revokeAllTokens();
    await burst(50, () => c.listTags());
    assert.equal(count('authenticate'), 2);
    assert.equal(count('listTags'), 100);
  });

  it('a 401 on the replay is an AUTH_FAILED error, not a loop', async () => {
    const c = client();
    await c.login();
    emu.faults.rejectTokens = true;
    await assert.rejects(c.listTags(), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, 'AUTH_FAILED');
      assert.equal(err.status, 401);
      assert.equal(err.operation, 'listTags');
      return true;
    });
    assert.equal(count('listTags'), 2);
    assert.equal(count('authenticate'), 2);
  });

  it('renewal before expiry uses renewToken, not authenticate', async () => {
    const c = client({ renewBeforeMs: 1500 });
    await c.login();
    await new Promise((resolve) => setTimeout(resolve, 700)); // inside the last 1.5 s of 2 s
    await c.listTags();
    assert.equal(count('renewToken'), 1);
    assert.equal(count('authenticate'), 1);
  });

  it('wrong credentials are AUTH_FAILED naming the user, and are not retried', async () => {
    const c = client({ password: 'not-the-password' });
    await assert.rejects(c.listTags(), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, 'AUTH_FAILED');
      assert.match(err.message, /wrong username or password for user "admin"/);
      return true;
    });
    assert.equal(count('authenticate'), 1);
    assert.equal(count('listTags'), 0);
  });
});
