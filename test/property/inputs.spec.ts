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

const NODE_TYPE = 'identities-enroll';
const catalogOf = (type: string) =>
  JSON.parse(
    readFileSync(path.join(__dirname, '..', '..', 'nodes', 'locales', 'en-US', `${type}.json`), 'utf8'),
  ) as Record<string, unknown>;
/** The shared strings (keys naming the config node's catalog), and the node's own. */
const sharedCatalog = catalogOf('identities-config');
const nodeCatalog = catalogOf(NODE_TYPE);

/** RED._ over the English catalogs, without starting Node-RED's i18n. */
function translate(key: string, substitutions: Record<string, unknown> = {}): string {
  const [namespace, inner] = key.includes(':') ? key.split(':') : [undefined, key];
  const found = (inner ?? '')
    .split('.')
    .reduce<unknown>(
      (node, part) => (node as Record<string, unknown> | undefined)?.[part],
      namespace ? sharedCatalog : nodeCatalog,
    );
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
  return { id: 'node', type: NODE_TYPE, context: () => ({ flow: store, global: store }) } as unknown as Node;
}

const OPERATION = 'faceEnroll';
/** The enroll node's TypedInput settings, with the request field each one fills. */
const TYPED = {
  image: 'faceImage',
  personId: 'personId',
  forceEnrollment: 'forceEnrollment',
  photoReferenceId: 'photoReferenceId',
};
/** Fixed msg properties the nodes read. */
const MSG_NAMES = [
  'personId',
  'tagId',
  'personTagId',
  'documentName',
  'take',
  'skip',
  'dateAscending',
  'epochStartMs',
];
/** A body as the people node takes a note, with the field of this package's older versions. */
const NOTE_BODY = { shape: '{noteId?, summary, body, author?}', renamed: { text: ['summary', 'body'] } };
const TAG_BODY = { shape: '{tagId?, tagName, ...}', text: 'tagName' };

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
    photoReferenceId: typedSetting,
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
            () => inputs.flag(setting, field),
            field,
            (flag) => assert.equal(typeof flag, 'boolean'),
          );
          await check(
            () => inputs.time(setting, field),
            field,
            (time) => assert.ok(time === undefined || !Number.isNaN(time.getTime())),
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
            () => inputs.optionalMsgCount(name),
            name,
            (count) => assert.ok(count === undefined || (Number.isInteger(count) && count >= 0)),
          );
          await check(
            () => inputs.optionalMsgFlag(name),
            name,
            (flag) => assert.ok(flag === undefined || typeof flag === 'boolean'),
          );
          await check(
            () => inputs.optionalMsgEpochMs(name),
            name,
            (ms) => assert.ok(ms === undefined || Number.isFinite(ms)),
          );
          await check(
            () => inputs.msgValue(name, 'file'),
            name,
            (value) => assert.ok(value !== undefined && value !== null),
          );
        }
        await check(
          () =>
            inputs.refuseOldMsgProperties({ tagName: 'tagId', entityFieldValue: 'entityFieldStringValue' }),
          'msg.',
          () => undefined,
        );
        const isBody = (body: unknown) =>
          assert.ok(
            typeof body === 'object' && body !== null && !Array.isArray(body) && !Buffer.isBuffer(body),
          );
        await check(() => inputs.body(NOTE_BODY), 'msg.payload', isBody);
        await check(() => inputs.body<{ tagName: string }>(TAG_BODY), 'msg.payload', isBody);
        const payload = msg.payload;
        const expires = { expires: payload };
        await check(
          () => inputs.bodyTime(expires, 'expires'),
          'msg.payload.expires',
          () =>
            assert.ok(
              expires.expires === null ||
                expires.expires === undefined ||
                typeof expires.expires === 'string',
            ),
        );
        // The one error that quotes what it found: a period text, cut at 40 characters, so that the
        // user sees the "a week" they wrote (test/nodes/records.spec.ts); it is no image or secret.
        const tag = { defaultExpirePeriod: payload };
        const period = await within(() => inputs.bodyPeriod(tag, 'defaultExpirePeriod'));
        if (period.ok)
          assert.ok(tag.defaultExpirePeriod == null || typeof tag.defaultExpirePeriod === 'string');
        else {
          const error = assertInvalidInput(period.error, OPERATION, 'msg.payload.defaultExpirePeriod');
          const quoted = /but is "(.*)"$/s.exec(error.message)?.[1];
          assert.ok(quoted === undefined || quoted.length <= 40, error.message);
        }
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
      'Person id (JSONata expression) could not be read: JSONata error D3030',
    );
    assert.ok(!error.message.includes(CANARY));
  });
});
