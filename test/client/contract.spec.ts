import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { IdentitiesClient } from '../../client/client';
import { OPERATIONS } from '../../client/generated/operations';
import { CONTRACT_PATH, GENERATED, generate } from '../../scripts/gen-types';
import { GUIDE, endpointKey } from '../guide/guide';

type Schema = { $ref?: string; required?: string[]; allOf?: Schema[] };
interface Parameter {
  name: string;
  in: string;
  schema?: { default?: unknown };
}
interface Operation {
  operationId: string;
  security?: unknown[];
  parameters?: (Parameter | { $ref: string })[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  'x-source'?: unknown;
  'x-permission'?: unknown;
  'x-permission-all'?: unknown;
  'x-include-permissions'?: Record<string, unknown>;
  'x-inferred'?: unknown;
}
interface Contract {
  paths: Record<string, Record<string, unknown>>;
}

/** A local $ref (#/components/...) of the contract, looked up. */
function resolveRef<T>(contract: Contract, ref: string): T {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], contract) as T;
}

/** Every operation of the contract, keyed as the guide's endpoints are: "METHOD /path". */
function contractOperations(contract: Contract) {
  return Object.entries(contract.paths).flatMap(([template, item]) =>
    (['get', 'put', 'post', 'delete'] as const).flatMap((method) => {
      const op = item[method] as Operation | undefined;
      const shared = (item.parameters ?? []) as Operation['parameters'];
      return op ? [{ key: endpointKey({ method: method.toUpperCase(), path: template }), op, shared }] : [];
    }),
  );
}

/** An operation's parameters, its path item's included, with the $refs looked up. */
function parametersOf(contract: Contract, shared: Operation['parameters'], op: Operation): Parameter[] {
  return [...(shared ?? []), ...(op.parameters ?? [])].map((p) =>
    '$ref' in p ? resolveRef<Parameter>(contract, p.$ref) : p,
  );
}

/** The required properties of a body schema, through $refs and allOf. */
function requiredOf(contract: Contract, schema: Schema): Set<string> {
  const resolved = schema.$ref ? resolveRef<Schema>(contract, schema.$ref) : schema;
  const required = new Set(resolved.required ?? []);
  for (const part of resolved.allOf ?? []) requiredOf(contract, part).forEach((name) => required.add(name));
  return required;
}

/** Operations the client runs by itself rather than as a method of their own. */
export const CLIENT_METHOD: Record<string, string | null> = { authenticate: 'login', renewToken: null };

describe('the contract', () => {
  const contract = parse(readFileSync(CONTRACT_PATH, 'utf8')) as Contract;

  it('generated files are up to date (run `npm run gen:types` after changing the YAML)', async () => {
    const fresh = await generate();
    for (const [name, file] of Object.entries(GENERATED)) {
      assert.equal(readFileSync(file, 'utf8'), fresh[name as keyof typeof GENERATED], `${file} is stale`);
    }
  });

  describe('against the vendor guide (test/guide/endpoints.json)', () => {
    const guide = new Map(GUIDE.endpoints.map((endpoint) => [endpointKey(endpoint), endpoint]));
    const operations = contractOperations(contract);
    /** Each documented endpoint with its operation in the contract (those the contract has). */
    const pairs = operations.flatMap(({ key, op, shared }) => {
      const endpoint = guide.get(key);
      return endpoint ? [{ endpoint, op, shared }] : [];
    });

    it('has exactly the guide\u2019s endpoints: the same methods and paths, path ids named alike', () => {
      const keys = operations.map((operation) => operation.key);
      assert.deepEqual(
        keys.filter((key) => !guide.has(key)),
        [],
        'in the contract, not in the guide',
      );
      assert.deepEqual(
        [...guide.keys()].filter((key) => !keys.includes(key)),
        [],
        'in the guide, not in the contract',
      );
    });

    it('names each operation\u2019s page of the guide in x-source', () => {
      const wrong = pairs
        .filter(({ endpoint, op }) => op['x-source'] !== endpoint.page)
        .map(
          ({ endpoint, op }) =>
            `${endpoint.operationId}: ${String(op['x-source'])} (guide: ${endpoint.page})`,
        );
      assert.deepEqual(wrong, []);
    });

    it('has the guide\u2019s path and query parameters, by name, with the guide\u2019s defaults', () => {
      const wrong: string[] = [];
      for (const { endpoint, op, shared } of pairs) {
        const params = parametersOf(contract, shared, op);
        for (const where of ['path', 'query'] as const) {
          const documented = where === 'path' ? endpoint.pathParams : endpoint.queryParams;
          const declared = params.filter((p) => p.in === where);
          const names = (list: { name: string }[]) => list.map((p) => p.name).sort();
          if (JSON.stringify(names(declared)) !== JSON.stringify(names(documented))) {
            wrong.push(
              `${endpoint.operationId} ${where}: [${names(declared)}], guide [${names(documented)}]`,
            );
          }
          for (const param of documented.filter((p) => p.default !== undefined)) {
            const found = declared.find((p) => p.name === param.name);
            if (found && found.schema?.default !== param.default) {
              wrong.push(
                `${endpoint.operationId} ${param.name}: default ${String(found.schema?.default)}, guide ${String(param.default)}`,
              );
            }
          }
        }
      }
      assert.deepEqual(wrong, []);
    });

    it('requires every body field the guide calls required, and none it calls optional, in its content type', () => {
      const wrong: string[] = [];
      for (const { endpoint, op } of pairs) {
        const content = op.requestBody?.content ?? {};
        if (!endpoint.body) {
          if (Object.keys(content).length > 0 && !endpoint.bodyUnknown) {
            wrong.push(`${endpoint.operationId}: a body, the guide has none`);
          }
          continue;
        }
        const schema = content[endpoint.body.contentType]?.schema;
        if (!schema) {
          wrong.push(`${endpoint.operationId}: no ${endpoint.body.contentType} body`);
          continue;
        }
        const required = requiredOf(contract, schema);
        for (const field of endpoint.body.fields) {
          if (field.required === true && !required.has(field.name)) {
            wrong.push(`${endpoint.operationId}: ${field.name} is not required`);
          }
          if (field.required === false && required.has(field.name)) {
            wrong.push(`${endpoint.operationId}: ${field.name} is required, the guide says optional`);
          }
        }
      }
      assert.deepEqual(wrong, []);
    });

    it('asks for the guide\u2019s permissions (checkImageReference: both pages\u2019, all of them)', () => {
      const wrong: string[] = [];
      const sameSet = (a: unknown, b: string[]) =>
        Array.isArray(a) && JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
      for (const { endpoint, op } of pairs) {
        const { permission } = endpoint;
        const anonymous = Array.isArray(op.security) && op.security.length === 0;
        const any = op['x-permission'];
        const all = op['x-permission-all'];
        const got = `security ${JSON.stringify(op.security)}, x-permission ${JSON.stringify(any)}, x-permission-all ${JSON.stringify(all)}`;
        let ok: boolean;
        switch (permission.kind) {
          case 'anonymous':
            ok = anonymous && any === undefined && all === undefined;
            break;
          case 'authenticated':
            ok = !anonymous && sameSet(any, []) && all === undefined;
            break;
          case 'anyOf':
            ok = !anonymous && sameSet(any, permission.names) && all === undefined;
            break;
          case 'disputed':
            ok =
              !anonymous &&
              any === undefined &&
              sameSet(all, [...new Set(Object.values(permission.byPage).flat())]);
            break;
          case 'not stated':
            // The guide names no permission: whatever the contract asks for is its inference, marked so.
            ok = !anonymous && op['x-inferred'] === true;
            break;
        }
        if (!ok) wrong.push(`${endpoint.operationId} (guide: ${JSON.stringify(permission)}): ${got}`);
        if (endpoint.includePermissions) {
          const include = op['x-include-permissions'] ?? {};
          for (const [name, names] of Object.entries(endpoint.includePermissions)) {
            if (!sameSet(include[name], names))
              wrong.push(`${endpoint.operationId} ${name}: ${JSON.stringify(include[name])}`);
          }
        }
      }
      assert.deepEqual(wrong, []);
    });
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
