import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { IdentitiesClient, OperationId } from '../../client/client';
import { OPERATIONS } from '../../client/generated/operations';
import { assertInvalidInput, settled, startFakeApi, utf16String, type FakeApi } from './support';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);

type Call = (client: IdentitiesClient, ids: string[]) => Promise<unknown>;

/** Every method that puts ids in the path, with the ids in the order of the path template. */
const PATH_CALLS: [OperationId, Call][] = [
  ['checkImageReference', (c, [id]) => c.checkImageReference(id!)],
  ['queryPeopleByEntityField', (c, [name, value]) => c.queryPeopleByEntityField(name!, value!)],
  ['getPerson', (c, [id]) => c.getPerson(id!)],
  ['getAliases', (c, [id]) => c.getAliases(id!)],
  ['upsertAlias', (c, [id]) => c.upsertAlias(id!, {} as never)],
  ['deleteAlias', (c, [person, alias]) => c.deleteAlias(person!, alias!)],
  ['getPersonTags', (c, [id]) => c.getPersonTags(id!)],
  ['upsertPersonTag', (c, [id]) => c.upsertPersonTag(id!, {} as never)],
  ['deletePersonTag', (c, [person, tag]) => c.deletePersonTag(person!, tag!)],
  ['getNotes', (c, [id]) => c.getNotes(id!)],
  ['upsertNote', (c, [id]) => c.upsertNote(id!, { summary: 'x', body: 'y' })],
  ['deleteNote', (c, [person, note]) => c.deleteNote(person!, note!)],
  ['upsertAddress', (c, [id]) => c.upsertAddress(id!, {} as never)],
  ['getEntityFields', (c, [id]) => c.getEntityFields(id!)],
  ['upsertEntityField', (c, [id]) => c.upsertEntityField(id!, {} as never)],
  ['deleteEntityField', (c, [person, field]) => c.deleteEntityField(person!, field!)],
  ['getEnrollmentPhoto', (c, [id]) => c.getEnrollmentPhoto(id!)],
  ['getDetectionPhoto', (c, [face, detection]) => c.getDetectionPhoto(face!, detection!)],
  ['downloadFileDocument', (c, [person, document]) => c.downloadFileDocument(person!, document!)],
  ['getDetectionsByFace', (c, [id]) => c.getDetectionsByFace(id!)],
  ['getDetectionsByPerson', (c, [id]) => c.getDetectionsByPerson(id!)],
  ['getTag', (c, [id]) => c.getTag(id!)],
  ['updateTag', (c, [id]) => c.updateTag(id!, { tagName: 'x' })],
  ['deleteTag', (c, [id]) => c.deleteTag(id!)],
  ['setStringFieldSetting', (c, [type, field]) => c.setStringFieldSetting(type!, field!, {} as never)],
  ['setDatetimeFieldSetting', (c, [type, field]) => c.setDatetimeFieldSetting(type!, field!, {} as never)],
];

/** Methods with a text filter in the query: [operation, parameter, call]. */
const FILTER_CALLS: [OperationId, string, (client: IdentitiesClient, value: string) => Promise<unknown>][] = [
  ['getPersonTags', 'tagName', (c, tagName) => c.getPersonTags('p', { tagName })],
  ['getEntityFields', 'fieldName', (c, fieldName) => c.getEntityFields('p', { fieldName })],
  ['listTags', 'tagName', (c, tagName) => c.listTags({ tagName })],
];

const placeholders = (operation: OperationId) =>
  [...OPERATIONS[operation].path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);

/** Pieces that change what a URL means when they are not encoded. */
const TRICKY = [
  '..',
  '.',
  '/',
  '\\',
  '%2e%2e',
  '%2F',
  '%',
  '%00',
  '?',
  '#',
  '&',
  '=',
  ';',
  ' ',
  '\t',
  '\0',
  '\n',
];
const trickyId = fc
  .array(fc.oneof(fc.constantFrom(...TRICKY, 'Tags', 'api', 'é', '😀', '\u200b'), fc.string()), {
    minLength: 1,
    maxLength: 6,
  })
  .map((pieces) => pieces.join(''));
/** Any id: well-formed text, crafted pieces, lone surrogates, dot segments, blanks. */
const anyId = fc.oneof(
  fc.string({ unit: 'binary' }),
  trickyId,
  utf16String(),
  fc.constantFrom('.', '..', '', ' ', '\t\n', '\u00a0'),
);

/** "." and ".." (URL resolution would make them another route) and ill-formed UTF-16 (no encoding exists): refused. */
const unsendable = (id: string) => id === '.' || id === '..' || !isWellFormed(id);
function isWellFormed(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

describe('property: ids in paths and queries', () => {
  let api: FakeApi;
  let client: IdentitiesClient;
  before(async () => {
    api = await startFakeApi();
    client = api.client();
  });
  after(async () => {
    client.close();
    await api.close();
  });

  /**
   * Calls `call` and checks what reached the server: blank ids give INVALID_INPUT naming the
   * parameter and send nothing; any other id is sent as exactly one path segment that decodes to
   * it, with nothing added to the query.
   */
  async function assertPathHolds(operation: OperationId, call: Call, ids: string[]): Promise<void> {
    const before = api.requests.length;
    const result = await settled(() => call(client, ids));
    const names = placeholders(operation);
    const blank = ids.findIndex((id) => id.trim() === '');
    if (blank >= 0) {
      assert.ok(!result.ok);
      assertInvalidInput(result.error, operation, `${names[blank]} is missing or empty`);
      assert.equal(api.requests.length, before, 'nothing sent');
      return;
    }
    if (!result.ok) throw result.error;
    assert.equal(api.requests.length, before + 1, 'one request');
    const { method, url } = api.requests[before]!;
    assert.equal(method, OPERATIONS[operation].method);
    const [path = '', ...query] = url.split('?');
    assert.equal(query.join('?'), '', `the query of ${url}`);
    assert.ok(!path.includes('#'));
    const template = OPERATIONS[operation].path.split('/');
    const segments = path.split('/');
    assert.equal(segments.length, template.length, `segments of ${url}`);
    let next = 0;
    template.forEach((part, i) => {
      if (part.startsWith('{')) assert.equal(decodeURIComponent(segments[i]!), ids[next++], url);
      else assert.equal(segments[i], part, url);
    });
  }

  /** A method, and as many ids for it as its path has placeholders. */
  const pathCase = (id: fc.Arbitrary<string>) =>
    fc.constantFrom(...PATH_CALLS).chain(([operation, call]) => {
      const count = placeholders(operation).length;
      return fc.tuple(
        fc.constant(operation),
        fc.constant(call),
        fc.array(id, { minLength: count, maxLength: count }),
      );
    });

  it('crafted ids (../Tags, %2e%2e/, ?, #, /, NUL, unicode, blanks) in every method: one segment or INVALID_INPUT', async () => {
    const ids = [
      '../Tags',
      '%2e%2e/',
      '..%2F..%2Fx',
      'a/b?c=d#e',
      '?aliasId=x',
      '#',
      '/',
      '\0',
      '😀 é',
      ' x ',
      '',
      '  ',
    ];
    for (const [operation, call] of PATH_CALLS) {
      for (const id of ids)
        await assertPathHolds(
          operation,
          call,
          placeholders(operation).map(() => id),
        );
    }
  });

  it('any id in any method: one segment that decodes to it, or INVALID_INPUT when blank, nothing escapes', async () => {
    // Ids the URL cannot carry are the next property's.
    await fc.assert(
      fc.asyncProperty(pathCase(anyId.filter((id) => !unsendable(id))), async ([operation, call, ids]) => {
        await assertPathHolds(operation, call, ids);
      }),
      { numRuns: 600 },
    );
  });

  // new URL() in Transport.send would resolve dot segments (getPerson('..') -> GET /api/v1/), and
  // encodeURIComponent throws URIError on a lone surrogate: both are refused before anything is sent.
  it('dot segments and lone surrogates as ids: INVALID_INPUT, nothing sent', async () => {
    await fc.assert(
      fc.asyncProperty(
        pathCase(fc.oneof(fc.constantFrom('.', '..', '\ud800', 'a\udc00b'), anyId)),
        async ([operation, call, ids]) => {
          const before = api.requests.length;
          const result = await settled(() => call(client, ids));
          if (ids.some(unsendable)) {
            assert.ok(!result.ok);
            assertInvalidInput(result.error, operation);
            assert.equal(api.requests.length, before, 'nothing sent');
          } else await assertPathHolds(operation, call, ids);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a text filter is sent as exactly that one parameter, and the path stays put', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...FILTER_CALLS),
        anyId.filter((value) => value !== '' && isWellFormed(value)),
        async ([operation, parameter, call], value) => {
          const before = api.requests.length;
          await call(client, value);
          assert.equal(api.requests.length, before + 1);
          const sent = new URL(api.requests[before]!.url, 'http://x');
          assert.equal(sent.pathname, OPERATIONS[operation].path.replace('{personId}', 'p'));
          assert.deepEqual([...sent.searchParams], [[parameter, value]]);
        },
      ),
      { numRuns: 300 },
    );
  });

  // An empty filter is no filter; a lone surrogate would go out as U+FFFD, a filter for another value.
  it('an empty text filter is left out; an ill-formed one is INVALID_INPUT, nothing sent', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...FILTER_CALLS),
        fc.oneof(fc.constantFrom('', '\ud800', 'a\udc00'), utf16String()),
        async ([operation, parameter, call], value) => {
          const before = api.requests.length;
          const result = await settled(() => call(client, value));
          if (!isWellFormed(value)) {
            assert.ok(!result.ok, `${operation} sent ${api.requests.at(-1)?.url}`);
            assertInvalidInput(result.error, operation, `${parameter} is not well-formed text`);
            assert.equal(api.requests.length, before, 'nothing sent');
          } else {
            const sent = [...new URL(api.requests[before]!.url, 'http://x').searchParams];
            assert.deepEqual(sent, value === '' ? [] : [[parameter, value]]);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('optional query values (queryPeople, detections, faceEnroll) arrive as given, nothing more', async () => {
    const text = anyId.filter((id) => id !== '' && isWellFormed(id));
    const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          tagId: optional(text),
          entityFieldName: optional(text),
          entityFieldStringValue: optional(text),
        }),
        fc.record({
          skip: optional(fc.nat()),
          take: optional(fc.nat()),
          epochStartMs: optional(fc.nat()),
          epochEndMs: optional(fc.nat()),
          dateAscending: optional(fc.boolean()),
        }),
        optional(text),
        optional(fc.boolean()),
        async (query, window, personId, forceEnrollment) => {
          const before = api.requests.length;
          await client.queryPeople(query);
          await client.getDetectionsByPerson('p', window);
          await client.faceEnroll({ faceImage: JPEG, personId, forceEnrollment });
          const [people, detections, enroll] = api.requests
            .slice(before)
            .map(({ url }) => new URL(url, 'http://x'));
          const given = (values: object) =>
            Object.entries(values)
              .filter(([, value]) => value !== undefined)
              .map(([name, value]) => [name, String(value)]);
          assert.equal(people!.pathname, OPERATIONS.queryPeople.path);
          assert.deepEqual([...people!.searchParams], given(query));
          assert.equal(detections!.pathname, '/api/v1/people/detections/personId/p');
          assert.deepEqual([...detections!.searchParams], given(window));
          assert.equal(enroll!.pathname, OPERATIONS.faceEnroll.path);
          assert.deepEqual([...enroll!.searchParams], given({ personId, forceEnrollment }));
        },
      ),
      { numRuns: 200 },
    );
  });
});
