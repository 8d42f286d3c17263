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
  ['getPerson', (c, [id]) => c.getPerson(id!)],
  ['getAliases', (c, [id]) => c.getAliases(id!)],
  ['upsertAlias', (c, [id]) => c.upsertAlias(id!, {} as never)],
  ['deleteAlias', (c, [id]) => c.deleteAlias(id!, 'alias-1')],
  ['getPersonTags', (c, [id]) => c.getPersonTags(id!)],
  ['upsertPersonTag', (c, [id]) => c.upsertPersonTag(id!, {} as never)],
  ['deletePersonTag', (c, [id]) => c.deletePersonTag(id!, 'tag-1')],
  ['getNotes', (c, [id]) => c.getNotes(id!)],
  ['upsertNote', (c, [id]) => c.upsertNote(id!, { text: 'x' } as never)],
  ['deleteNote', (c, [id]) => c.deleteNote(id!, 'note-1')],
  ['upsertAddress', (c, [id]) => c.upsertAddress(id!, {} as never)],
  ['getEntityFields', (c, [id]) => c.getEntityFields(id!)],
  ['upsertEntityField', (c, [id]) => c.upsertEntityField(id!, {} as never)],
  ['deleteEntityField', (c, [id]) => c.deleteEntityField(id!, 'field-1')],
  ['getEnrollmentPhoto', (c, [id]) => c.getEnrollmentPhoto(id!)],
  ['getDetectionPhoto', (c, [face, detection]) => c.getDetectionPhoto(face!, detection!)],
  ['downloadFileDocument', (c, [person, document]) => c.downloadFileDocument(person!, document!)],
  ['getDetectionsByFace', (c, [id]) => c.getDetectionsByFace(id!)],
  ['getDetectionsByPerson', (c, [id]) => c.getDetectionsByPerson(id!)],
  ['getTag', (c, [id]) => c.getTag(id!)],
  ['updateTag', (c, [id]) => c.updateTag(id!, { name: 'x' } as never)],
  ['deleteTag', (c, [id]) => c.deleteTag(id!)],
  ['setStringFieldSetting', (c, [type, field]) => c.setStringFieldSetting(type!, field!, {} as never)],
  ['setDatetimeFieldSetting', (c, [type, field]) => c.setDatetimeFieldSetting(type!, field!, {} as never)],
];

/** The fixed query the delete calls above add. */
const FIXED_QUERY: Partial<Record<OperationId, string>> = {
  deleteAlias: 'aliasId=alias-1',
  deletePersonTag: 'tagId=tag-1',
  deleteNote: 'noteId=note-1',
  deleteEntityField: 'name=field-1',
};

/** Methods with a required id in the query: [operation, parameter, call]. */
const QUERY_CALLS: [OperationId, string, (client: IdentitiesClient, id: string) => Promise<unknown>][] = [
  ['deleteAlias', 'aliasId', (c, id) => c.deleteAlias('p', id)],
  ['deletePersonTag', 'tagId', (c, id) => c.deletePersonTag('p', id)],
  ['deleteNote', 'noteId', (c, id) => c.deleteNote('p', id)],
  ['deleteEntityField', 'name', (c, id) => c.deleteEntityField('p', id)],
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
    assert.equal(query.join('?'), FIXED_QUERY[operation] ?? '', `the query of ${url}`);
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

  it('a query-parameter id is sent as exactly that one parameter, and the path stays put', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...QUERY_CALLS),
        anyId.filter((id) => id.trim() !== '' && isWellFormed(id)),
        async ([operation, parameter, call], id) => {
          const before = api.requests.length;
          await call(client, id);
          assert.equal(api.requests.length, before + 1);
          const sent = new URL(api.requests[before]!.url, 'http://x');
          assert.equal(sent.pathname, OPERATIONS[operation].path.replace('{personId}', 'p'));
          assert.deepEqual([...sent.searchParams], [[parameter, id]]);
        },
      ),
      { numRuns: 300 },
    );
  });

  // Optional query values that are blank are left out, but a required id must not be: deleteAlias('p', '')
  // would otherwise delete with no aliasId, and a lone surrogate would be sent as U+FFFD, another id.
  it('a blank or ill-formed required query id: INVALID_INPUT, nothing sent', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...QUERY_CALLS),
        fc.oneof(fc.constantFrom('', ' ', '\t\n', '\ud800'), utf16String()),
        async ([operation, parameter, call], id) => {
          const before = api.requests.length;
          const result = await settled(() => call(client, id));
          if (id.trim() === '' || !isWellFormed(id)) {
            assert.ok(!result.ok, `${operation} sent ${api.requests.at(-1)?.url}`);
            assertInvalidInput(result.error, operation, parameter);
            assert.equal(api.requests.length, before, 'nothing sent');
          } else {
            assert.deepEqual(
              [...new URL(api.requests[before]!.url, 'http://x').searchParams],
              [[parameter, id]],
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('optional query values (queryPeople, faceEnroll personId) arrive as given, nothing more', async () => {
    const text = anyId.filter((id) => id !== '' && isWellFormed(id));
    const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          tagId: optional(text),
          tagName: optional(text),
          entityFieldName: optional(text),
          entityFieldValue: optional(text),
          skip: optional(fc.nat()),
          take: optional(fc.nat()),
        }),
        optional(text),
        async (query, personId) => {
          const before = api.requests.length;
          await client.queryPeople(query);
          await client.faceEnroll({ faceImage: JPEG, personId });
          const [people, enroll] = api.requests.slice(before).map(({ url }) => new URL(url, 'http://x'));
          assert.equal(people!.pathname, OPERATIONS.queryPeople.path);
          const expected = Object.entries(query)
            .filter(([, value]) => value !== undefined)
            .map(([name, value]) => [name, String(value)]);
          assert.deepEqual([...people!.searchParams], expected);
          assert.equal(enroll!.pathname, OPERATIONS.faceEnroll.path);
          assert.deepEqual([...enroll!.searchParams], personId === undefined ? [] : [['personId', personId]]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
