/**
 * Drift: the client notices where a server's answer differs from the contract and says so once
 * (client/drift.ts), from shapes generated out of openapi/identities.yaml (scripts/gen-types.ts).
 */
import assert from 'node:assert/strict';
import type { DriftReport } from '../../client/client';
import { compare, DriftWatch, type DriftProblem, type Shape } from '../../client/drift';
import { RESPONSE_SHAPES } from '../../client/generated/shapes';
import { ShapeBuilder } from '../../scripts/gen-types';
import { startFakeApi, type FakeApi } from '../property/support';

function differences(value: unknown, shape: Shape): string[] {
  const found: string[] = [];
  compare(value, shape, (field, problem: DriftProblem, expected, actual) =>
    found.push(`${problem} ${field} ${expected ?? '-'} ${actual ?? '-'}`),
  );
  return found;
}

const tag = {
  tagId: 't1',
  tagName: 'VIP',
  disabled: false,
  description: null,
  defaultExpirePeriod: '00:00:00',
};

describe('drift', function () {
  describe('compare', function () {
    it('finds nothing in an answer of the contract, integers and nulls where the contract allows them', function () {
      const person = {
        personId: 'p',
        aliases: [{ personAliasId: 'a', firstName: 'Ada', lastName: null }],
        entityFields: [{ name: 'Tier', numberValue: 3 }],
        tags: [{ tagId: 't', expires: null }],
      };
      assert.deepEqual(differences([person, { personId: 'q' }], RESPONSE_SHAPES.queryPeople!), []);
      assert.deepEqual(differences([tag], RESPONSE_SHAPES.listTags!), []);
    });

    it('names unknown fields, missing required fields and other types by their path', function () {
      const old = [
        { personId: 'p', personTags: [{ tagId: 't' }], aliases: [{ firstName: 'Ada', lastName: 7 }] },
        { aliases: 'none' },
      ];
      assert.deepEqual(differences(old, RESPONSE_SHAPES.queryPeople!), [
        'unknown [].personTags - array',
        'type [].aliases[].lastName string or null integer',
        'type [].aliases array string',
        'missing [].personId string -',
      ]);
      const faces = { detectedFaces: [{ faceId: 'f', detectId: 'd', confidence: 1, faceQuality: 0.5 }] };
      assert.deepEqual(differences(faces, RESPONSE_SHAPES.publishWithResponse!), [
        'missing detectedFaces[].boundingBox object -',
      ]);
      assert.deepEqual(differences({ detectedFaces: null }, RESPONSE_SHAPES.publishWithResponse!), [
        'type detectedFaces array null',
      ]);
      assert.deepEqual(differences('a.b.c', RESPONSE_SHAPES.authenticate!), ['type  object string']);
    });

    it('does not look inside an unknown field, and keeps to own keys', function () {
      const answer = JSON.parse('[{"tagName":"VIP","extra":{"a":1},"__proto__":{"x":1}}]') as unknown;
      assert.deepEqual(differences(answer, RESPONSE_SHAPES.listTags!), [
        'unknown [].extra - object',
        'unknown [].__proto__ - object',
      ]);
    });
  });

  describe('DriftWatch', function () {
    it('reports each operation, field and problem once', function () {
      const reports: DriftReport[] = [];
      const watch = new DriftWatch((report) => reports.push(report));
      const old = [{ tagId: 't', name: 'VIP' }];
      watch.check('listTags', old);
      watch.check('listTags', old);
      watch.check('listTags', [{ tagId: 't', name: 'VIP', tagName: 5 }]);
      watch.check('getTag', { tagId: 't', name: 'VIP' });
      assert.deepEqual(reports, [
        { operation: 'listTags', field: '[].name', problem: 'unknown', actual: 'string' },
        { operation: 'listTags', field: '[].tagName', problem: 'missing', expected: 'string' },
        {
          operation: 'listTags',
          field: '[].tagName',
          problem: 'type',
          expected: 'string',
          actual: 'integer',
        },
        { operation: 'getTag', field: 'name', problem: 'unknown', actual: 'string' },
        { operation: 'getTag', field: 'tagName', problem: 'missing', expected: 'string' },
      ]);
    });

    it('stops at 200 reports, however many new field names a server makes up', function () {
      const reports: DriftReport[] = [];
      const watch = new DriftWatch((report) => reports.push(report));
      const keyedByIds = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`id${i}`, i]));
      watch.check('getTag', { tagId: 't', tagName: 'VIP', ...keyedByIds });
      watch.check('getTag', { tagId: 't', name: 'VIP' });
      assert.equal(reports.length, 200);
    });

    it('checks every answer until 20 in a row bring nothing new, then one in 16, and every one again after news', function () {
      const reports: string[] = [];
      const watch = new DriftWatch((report) => reports.push(report.field));
      for (let i = 0; i < 20; i++) watch.check('getTag', tag);
      // Sampling: of the next 16 answers only the 16th is looked at.
      for (let i = 1; i <= 15; i++) watch.check('getTag', { ...tag, [`skipped${i}`]: 1 });
      assert.deepEqual(reports, []);
      watch.check('getTag', { ...tag, sampled: 1 });
      assert.deepEqual(reports, ['sampled']);
      // News: every answer is checked again.
      watch.check('getTag', { ...tag, next: 1 });
      assert.deepEqual(reports, ['sampled', 'next']);
      // Operations are counted apart: listTags is still checked every time.
      watch.check('listTags', [{ ...tag, other: 1 }]);
      assert.deepEqual(reports, ['sampled', 'next', '[].other']);
    });
  });

  describe('the client', function () {
    let api: FakeApi;
    let answer: unknown;

    before(async function () {
      // The login answers without the contract's username.
      api = await startFakeApi(() => ({ status: 200, body: answer }));
    });

    after(async function () {
      await api.close();
    });

    it('reports drift through onDrift and returns the answer as sent, unknown fields kept', async function () {
      const reports: DriftReport[] = [];
      const client = api.client({ onDrift: (report) => reports.push(report) });
      try {
        answer = [{ tagId: 't', name: 'VIP' }];
        assert.deepEqual(await client.listTags(), answer);
        assert.deepEqual(await client.listTags(), answer);
        assert.deepEqual(reports, [
          { operation: 'authenticate', field: 'username', problem: 'missing', expected: 'string' },
          { operation: 'listTags', field: '[].name', problem: 'unknown', actual: 'string' },
          { operation: 'listTags', field: '[].tagName', problem: 'missing', expected: 'string' },
        ]);
      } finally {
        client.close();
      }
    });

    it('an onDrift that throws costs a warning, not the answer', async function () {
      const logs: string[] = [];
      const client = api.client({
        onDrift: () => {
          throw new Error('listener broke');
        },
        log: (level, message) => logs.push(`${level} ${message}`),
      });
      try {
        answer = { ...tag, extra: true };
        assert.deepEqual(await client.getTag('t1'), answer);
        assert.ok(logs.includes('warn onDrift failed: listener broke'), logs.join('\n'));
      } finally {
        client.close();
      }
    });
  });

  describe('shapes from JSON schemas (gen-types)', function () {
    const schemas = {
      Base: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      Loop: { type: 'object', properties: { next: { $ref: '#/components/schemas/Loop' } } },
    };
    const builder = new ShapeBuilder(schemas);

    it('merges allOf, reads nullable and implies object and array types', function () {
      const shape = builder.shape(
        {
          allOf: [
            { $ref: '#/components/schemas/Base' },
            { properties: { n: { type: 'integer', nullable: true }, list: { items: { type: 'number' } } } },
          ],
          required: ['n'],
        },
        'test',
      );
      assert.deepEqual(
        { type: shape.type, fields: Object.keys(shape.fields ?? {}), required: shape.required },
        { type: ['object'], fields: ['id', 'n', 'list'], required: ['n', 'id'] },
      );
      assert.deepEqual(shape.fields?.n, { type: ['integer', 'null'] });
      assert.deepEqual(shape.fields?.list, { type: ['array'], items: { type: ['number'] } });
    });

    it('refuses what it cannot describe: oneOf, a schema that refers to itself, an unknown $ref', function () {
      assert.throws(() => builder.shape({ oneOf: [{ type: 'string' }] }, 'x'), /x: oneOf has no Shape/);
      assert.throws(() => builder.shape({ $ref: '#/components/schemas/Loop' }, 'x'), /Loop refers to itself/);
      assert.throws(() => builder.shape({ $ref: '#/components/schemas/Nope' }, 'x'), /cannot resolve/);
    });
  });
});
