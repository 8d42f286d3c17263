import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { IdentitiesClient } from '../../client/client';
import { OPERATIONS } from '../../client/generated/operations';
import { CONTRACT_PATH, GENERATED, generate } from '../../scripts/gen-types';

const DOCS = path.join(__dirname, '..', '..', '..', 'shared', 'api-docs');

/** Operations the client runs by itself rather than as a method of their own. */
export const CLIENT_METHOD: Record<string, string | null> = { authenticate: 'login', renewToken: null };

describe('the contract', () => {
  const contract = parse(readFileSync(CONTRACT_PATH, 'utf8')) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const contractPaths = Object.keys(contract.paths);

  it('generated files are up to date (run `npm run gen:types` after changing the YAML)', async () => {
    const fresh = await generate();
    assert.equal(
      readFileSync(GENERATED.types, 'utf8'),
      fresh.types,
      'client/generated/identities.ts is stale',
    );
    assert.equal(
      readFileSync(GENERATED.operations, 'utf8'),
      fresh.operations,
      'client/generated/operations.ts is stale',
    );
  });

  it('has every endpoint of the vendor docs, and nothing the docs do not have', () => {
    const docs = readdirSync(DOCS)
      .filter((name) => name.endsWith('.txt'))
      .map((name) => readFileSync(path.join(DOCS, name), 'utf8'))
      .join('\n');
    // The docs' tables run a path straight into its description ("/api/v1/TagsList tags.") and fill
    // in example ids ("checkImageReference/ext-123", "enrollmentPhoto/<faceId>"): a mention is
    // documented when some contract path, its parameters matching any segment, is followed by the
    // end, a description (upper case) or a placeholder.
    const patterns = contractPaths.map((p) => new RegExp(`^${p.replace(/\{\w+\}/g, '[^/]*')}(?=$|[A-Z<])`));
    const mentions = docs.match(/\/(?:api|auth)\/v1\/[\w{}<>/-]*/g) ?? [];
    const unknown = mentions.filter((mention) => !patterns.some((pattern) => pattern.test(mention)));
    assert.deepEqual(unknown, []);
    const undocumented = contractPaths.filter((p) => !docs.includes(p));
    assert.deepEqual(undocumented, []);
  });

  it('the README table lists every endpoint', () => {
    const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const missing = Object.entries(OPERATIONS).filter(
      ([, op]) => !readme.includes(`| ${op.method} | \`${op.path}\` |`),
    );
    assert.deepEqual(
      missing.map(([name]) => name),
      [],
    );
  });

  it('lists 39 operations, each with a method and a path', () => {
    assert.equal(Object.keys(OPERATIONS).length, 39);
  });

  it('every operation is reachable from a client method', () => {
    const client = new IdentitiesClient({ baseUrl: 'https://localhost:5009', username: 'u', password: 'p' });
    try {
      for (const operation of Object.keys(OPERATIONS)) {
        const method = operation in CLIENT_METHOD ? CLIENT_METHOD[operation] : operation;
        if (method === null) continue;
        assert.equal(typeof (client as unknown as Record<string, unknown>)[method], 'function', operation);
      }
    } finally {
      client.close();
    }
  });
});
