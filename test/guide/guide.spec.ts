/**
 * endpoints.json and requests.json hold together: every example request is of an endpoint of the
 * guide and uses only what that endpoint documents, and every name they refer to exists.
 */
import assert from 'node:assert/strict';
import {
  EXAMPLES,
  GUIDE,
  checkJson,
  endpointKey,
  endpointOf,
  resolveSpec,
  type FieldSpec,
  type TypeSpec,
} from './guide';

const templateParams = (template: string) => [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);

/** Every spec below this one (fields, items, overrides), for reference checks. */
function* specsIn(spec: TypeSpec): Generator<TypeSpec> {
  yield spec;
  for (const field of spec.fields ?? []) yield* specsIn(field);
  if (spec.items) yield* specsIn(spec.items);
  for (const extra of Object.values(spec.with ?? {})) yield* specsIn(extra);
}

describe('the guide as data (test/guide)', () => {
  const pageUrls = GUIDE.pages.map((page) => page.url);

  it('has the 15 pages, each under the guide\u2019s address', () => {
    assert.equal(GUIDE.pages.length, 15);
    assert.equal(new Set(pageUrls).size, 15);
    for (const url of pageUrls) assert.ok(url.startsWith(GUIDE.pageBase), url);
  });

  it('has 40 endpoints, each once, each documented on one of the pages', () => {
    assert.equal(GUIDE.endpoints.length, 40);
    assert.equal(new Set(GUIDE.endpoints.map(endpointKey)).size, 40);
    assert.equal(new Set(GUIDE.endpoints.map((e) => e.operationId)).size, 40);
    for (const endpoint of GUIDE.endpoints) {
      for (const url of [endpoint.page, ...endpoint.listedOn]) {
        assert.ok(pageUrls.includes(url), `${endpoint.operationId}: ${url}`);
      }
    }
  });

  it('names each path parameter of an endpoint, and no other', () => {
    for (const endpoint of GUIDE.endpoints) {
      assert.deepEqual(
        endpoint.pathParams.map((p) => p.name),
        templateParams(endpoint.path),
        endpoint.operationId,
      );
    }
  });

  it('gives every endpoint a permission, and names both pages where two disagree', () => {
    for (const endpoint of GUIDE.endpoints) {
      const { permission } = endpoint;
      if (permission.kind === 'anyOf') assert.ok(permission.names.length > 0, endpoint.operationId);
      if (permission.kind === 'disputed') {
        assert.ok(Object.keys(permission.byPage).length >= 2, endpoint.operationId);
        for (const url of Object.keys(permission.byPage)) assert.ok(pageUrls.includes(url), url);
      }
      if (permission.kind === 'not stated') assert.ok(endpoint.silent.includes('permission'));
    }
    const disputed = GUIDE.endpoints.filter((e) => e.permission.kind === 'disputed');
    assert.deepEqual(
      disputed.map((e) => e.operationId),
      ['checkImageReference'],
    );
  });

  it('refers only to shapes it has', () => {
    const specs: TypeSpec[] = [
      ...Object.values(GUIDE.shapes).map((shape) => ({ fields: shape.fields })),
      ...GUIDE.endpoints.flatMap((e) => (e.response?.json ? [e.response.json] : [])),
      ...EXAMPLES.requests.flatMap((r) => (r.response.json ? [r.response.json] : [])),
    ];
    for (const spec of specs) for (const inner of specsIn(spec)) resolveSpec(inner);
  });

  it('has as many example requests per page as the page lists', () => {
    const counted = Object.fromEntries(pageUrls.map((url) => [url, 0]));
    for (const request of EXAMPLES.requests) {
      assert.ok(request.page in counted, `${request.id}: ${request.page}`);
      counted[request.page]! += 1;
    }
    assert.deepEqual(
      counted,
      Object.fromEntries(GUIDE.pages.map((page) => [page.url, page.exampleRequests])),
    );
    assert.equal(new Set(EXAMPLES.requests.map((r) => r.id)).size, EXAMPLES.requests.length);
  });

  describe('each example request', () => {
    for (const request of EXAMPLES.requests) {
      it(`${request.id}: is a request of a documented endpoint, with its documented names`, () => {
        const endpoint = endpointOf(request);
        assert.equal(request.operationId, endpoint.operationId);
        assert.deepEqual(Object.keys(request.pathValues), templateParams(request.path));
        const queryNames = endpoint.queryParams.map((p) => p.name);
        for (const name of Object.keys(request.query)) assert.ok(queryNames.includes(name), `query ${name}`);

        const bodyFields = (endpoint.body?.fields ?? []).map((f: FieldSpec) => f.name);
        const sent =
          request.body === null
            ? []
            : 'json' in request.body
              ? Object.keys(request.body.json)
              : request.body.form.map((part) => part.name);
        assert.equal(request.body?.contentType, endpoint.body?.contentType);
        for (const name of sent) assert.ok(bodyFields.includes(name), `body field ${name}`);
        const required = (endpoint.body?.fields ?? []).filter((f) => f.required === true).map((f) => f.name);
        for (const name of required) assert.ok(sent.includes(name), `the required ${name} is sent`);

        const files = request.body && 'form' in request.body ? request.body.form : [];
        const jsonValues = request.body && 'json' in request.body ? Object.values(request.body.json) : [];
        for (const value of [...files, ...jsonValues]) {
          const file =
            value && typeof value === 'object'
              ? 'file' in value
                ? value.file
                : (value as { $file?: string }).$file
              : undefined;
          if (file !== undefined) assert.ok(file in EXAMPLES.files, `file ${file}`);
        }
        if (endpoint.response) assert.equal(request.response.body, endpoint.response.body);
      });
    }
  });

  describe('the answer checker', () => {
    const person = {
      personId: '0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
      aliases: [],
      addresses: [],
      entityFields: [],
      tags: [
        { tagId: '4c5d6e7f-8091-2345-6789-abcdef012345', expires: null, created: '2026-01-15T12:00:00Z' },
      ],
      notes: [],
    };

    it('passes an answer with the documented fields', () => {
      assert.deepEqual(checkJson(person, { shape: 'IdentityPersonItem' }), []);
    });

    it('names a missing field, a wrong type, a bad format, a null where none is allowed', () => {
      const { notes: _notes, ...noNotes } = person;
      const wrong = {
        ...noNotes,
        personId: 'P1',
        aliases: {},
        tags: [{ tagId: '4c5d6e7f-8091-2345-6789-abcdef012345', expires: 3, created: null }],
      };
      assert.deepEqual(checkJson(wrong, { shape: 'IdentityPersonItem' }), [
        'answer.personId is not a GUID: "P1"',
        'answer.aliases is an object, not array',
        'answer.tags[0].expires is a number, not string',
        'answer.tags[0].created is null',
        'answer.notes is missing',
      ]);
    });

    it('names fields the guide does not show, where it shows the whole object', () => {
      assert.deepEqual(checkJson({ personId: person.personId, expiration: 1 }, { shape: 'AuthResult' }), [
        'answer.username is missing',
        'answer.token is missing',
        'answer has fields the guide does not show: personId, expiration',
      ]);
      assert.deepEqual(checkJson({ ...person, faces: [] }, { shape: 'IdentityPersonItem' }), []);
    });

    it('holds an example to what it asks for: required and absent sections, at least one item', () => {
      const spec: TypeSpec = {
        type: 'array',
        minItems: 1,
        items: { shape: 'FaceEdgePerson', require: ['aliases'], absent: ['addresses'] },
      };
      assert.deepEqual(checkJson([], spec), ['answer has 0 items, the example shows at least 1']);
      assert.deepEqual(checkJson([{ personId: person.personId, addresses: [] }], spec), [
        'answer[0].aliases is missing',
        'answer[0].addresses is there, but was not asked for',
      ]);
    });
  });
});
