import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type NodeRedUtil from '@node-red/util';
import fc from 'fast-check';
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { Inputs } from '../../nodes/lib/inputs';
import { assertInvalidInput, CANARY, exoticValue, POLLUTING_KEYS, settled, type Outcome } from './support';

/** Node-RED's own evaluateNodeProperty (msg paths, JSON, JSONata, env...), as the nodes get it. */
const nodeRedUtil = createRequire(__filename)('@node-red/util') as typeof NodeRedUtil;

/** RED._ over the English catalog, without starting Node-RED's i18n. */
const catalog = JSON.parse(
  readFileSync(
    path.join(__dirname, '..', '..', 'nodes', 'locales', 'en-US', 'identities-config.json'),
    'utf8',
  ),
) as Record<string, unknown>;
function translate(key: string, substitutions: Record<string, unknown> = {}): string {
  const found = (key.split(':')[1] ?? key)
    .split('.')
    .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], catalog);
  if (typeof found !== 'string') return key;
  return found.replace(/__(\w+)__/g, (whole, name: string) =>
    Object.hasOwn(substitutions, name) ? String(substitutions[name]) : whole,
  );
}
const RED = { util: nodeRedUtil.util, _: translate } as unknown as NodeAPI;

/** A node whose flow and global context hold `context`, read as Node-RED's stores are. */
function fakeNode(context: Record<string, unknown>): Node {
  const store = {
    get: (key: string, _store: unknown, callback: (err: unknown, value?: unknown) => void) => {
      try {
        callback(null, nodeRedUtil.util.getObjectProperty(context, key));
      } catch (err) {
        callback(err);
      }
    },
  };
  return { id: 'node', context: () => ({ flow: store, global: store }) } as unknown as Node;
}

const OPERATION = 'faceEnroll';
/** TypedInput settings as nodes have them, with the request field each one fills. */
const TYPED = {
  image: 'faceImage',
  personId: 'personId',
  forceEnrollment: 'forceEnrollment',
  detectorName: 'name',
};
/** Fixed msg properties the nodes read. */
const MSG_NAMES = ['personId', 'tagId', 'fieldId', 'documentName', 'take', 'skip'];

const msgKey = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('payload', ...MSG_NAMES, 'camera', ...POLLUTING_KEYS) },
  { weight: 1, arbitrary: fc.string() },
);
const anyValue = fc.oneof(
  exoticValue(msgKey),
  fc.anything({ key: msgKey, values: [fc.constant(CANARY), fc.constant(` ${CANARY} `), fc.integer()] }),
  fc.constantFrom('', '   ', '\t\n', 'true', 'false', '12', '1e400', '-0', 'NaN', '0x10', CANARY),
  fc.double(),
  fc.uint8Array({ maxLength: 8 }).map((bytes) => Buffer.from(bytes)),
);
const message = fc
  .tuple(fc.dictionary(msgKey, anyValue, { maxKeys: 8 }), fc.boolean())
  .map(
    ([props, bare]) => (bare ? Object.assign(Object.create(null) as object, props) : props) as NodeMessage,
  );

/** Where a TypedInput may point: msg paths (some broken or polluting), JSON, JSONata, env... */
const typedSetting = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('msg'),
      value: fc.oneof(
        fc.constantFrom(
          'payload',
          ...MSG_NAMES,
          'camera.face',
          'payload.a.b',
          'payload["x"]',
          'camera[msg.personId]',
          '__proto__',
          '__proto__.polluted',
          'constructor.prototype',
          '',
          '  ',
          'a..b',
          '[',
        ),
        fc.string(),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constantFrom('flow', 'global'),
      value: fc.constantFrom('payload', 'camera.face', '', 'a[msg.personId]', '#:(file)::x'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('jsonata'),
      value: fc.constantFrom(
        'payload',
        '$number(payload)',
        '$string(personId)',
        'payload +',
        '$error("no")',
        '$sum(payload)',
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constantFrom('str', 'num', 'bool', 'json', 'bin', 're', 'env', 'date', 'unknown', ''),
      value: fc.oneof(fc.string(), fc.constantFrom('true', '{"a":1}', '[1,2]', 'PATH', '${HOME}')),
    }),
  },
);
const settings = fc
  .record({
    image: typedSetting,
    personId: typedSetting,
    forceEnrollment: typedSetting,
    detectorName: typedSetting,
  })
  .map((typed) =>
    Object.fromEntries(
      Object.entries(typed).flatMap(([name, { value, type }]) => [
        [name, value],
        [`${name}Type`, type],
      ]),
    ),
  );

/** Resolves with the outcome, or fails the run if the call never settles. */
async function within<T>(work: () => Promise<T> | T): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer within 2 s')), 2000);
  });
  try {
    return await Promise.race([settled(async () => work()), hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** A result `accept` agrees with, or an INVALID_INPUT that names `field` and quotes no msg value. */
async function check<T>(
  work: () => Promise<T> | T,
  field: string,
  accept: (value: T) => void,
): Promise<void> {
  const result = await within(work);
  if (result.ok) return accept(result.value);
  const error = assertInvalidInput(result.error, OPERATION, field);
  assert.ok(!error.message.includes(CANARY), `no msg value in "${error.message}"`);
  assert.ok(!error.message.includes('[object'), `a reason, not an object's tag, in "${error.message}"`);
}

const nonEmptyTrimmed = (value: unknown) => {
  assert.equal(typeof value, 'string');
  assert.ok((value as string).length > 0 && (value as string).trim() === value, JSON.stringify(value));
};

describe('property: msg overrides and TypedInputs', () => {
  it('every way of reading an input gives a usable result or INVALID_INPUT naming it', async () => {
    await fc.assert(
      fc.asyncProperty(settings, message, message, async (setup, msg, context) => {
        const inputs = new Inputs(RED, fakeNode(context), msg, OPERATION, setup);
        for (const [setting, field] of Object.entries(TYPED)) {
          await check(
            () => inputs.value(setting, field),
            field,
            () => undefined,
          );
          await check(() => inputs.text(setting, field), field, nonEmptyTrimmed);
          await check(
            () => inputs.optionalText(setting, field),
            field,
            (text) => text === undefined || nonEmptyTrimmed(text),
          );
          await check(
            () => inputs.image(setting, field),
            field,
            (image) =>
              assert.ok(
                image !== undefined && image !== null && !(typeof image === 'string' && !image.trim()),
              ),
          );
          await check(
            () => inputs.flag(setting, field, false),
            field,
            (flag) => assert.equal(typeof flag, 'boolean'),
          );
        }
        for (const name of [...MSG_NAMES, ...POLLUTING_KEYS]) {
          await check(() => inputs.msgText(name), name, nonEmptyTrimmed);
          await check(
            () => inputs.optionalMsgText(name),
            name,
            (text) => text === undefined || nonEmptyTrimmed(text),
          );
          await check(
            () => inputs.optionalMsgInteger(name),
            name,
            (number) => assert.ok(number === undefined || Number.isInteger(number)),
          );
        }
        const isBody = (body: unknown) =>
          assert.ok(
            typeof body === 'object' && body !== null && !Array.isArray(body) && !Buffer.isBuffer(body),
          );
        await check(() => inputs.body(), 'msg.payload', isBody);
        await check(() => inputs.body<{ name: string }>('name'), 'msg.payload', isBody);
      }),
      { numRuns: 300 },
    );
  });

  it('a fixed msg property: text as given (trimmed), a finite number as text, absent when blank', () => {
    return fc.assert(
      fc.asyncProperty(anyValue, fc.constantFrom(...MSG_NAMES, ...POLLUTING_KEYS), async (value, name) => {
        const msg = Object.defineProperty({} as NodeMessage, name, { value, enumerable: true });
        const inputs = new Inputs(RED, fakeNode({}), msg, OPERATION, {});
        const result = await within(() => inputs.optionalMsgText(name));
        if (value === undefined || value === null || (typeof value === 'string' && !value.trim()))
          assert.deepEqual(result, { ok: true, value: undefined });
        else if (typeof value === 'string') assert.deepEqual(result, { ok: true, value: value.trim() });
        else if (typeof value === 'number' && Number.isFinite(value))
          assert.deepEqual(result, { ok: true, value: String(value) });
        else {
          assert.ok(!result.ok);
          assertInvalidInput(result.error, OPERATION, `${name} must be text, but is `);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a failing JSONata expression is reported by its code, not as [object Object] or with the msg value (regression)', async () => {
    const inputs = new Inputs(RED, fakeNode({}), { payload: CANARY } as NodeMessage, OPERATION, {
      personId: '$number(payload)',
      personIdType: 'jsonata',
    });
    const result = await within(() => inputs.text('personId', 'personId'));
    assert.ok(!result.ok);
    const error = assertInvalidInput(
      result.error,
      OPERATION,
      'personId could not be read: JSONata error D3030',
    );
    assert.ok(!error.message.includes(CANARY));
  });
});
