/**
 * The client against the contract, request by request: every client method is sent to a loopback
 * server that records what arrives, and each request is held to its operation in
 * openapi/identities.yaml: the method, the path (each id in its own slot), the query parameter
 * names, and the JSON body's or multipart form's field names (none the contract lacks, every one it
 * requires). Every operation of the contract must be sent; the last test fails on one that is not.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import busboy from 'busboy';
import { parse } from 'yaml';
import { IdentitiesClient, type OperationId } from '../../client/client';
import { METHODS } from '../../emulator/contract';
import { CONTRACT_PATH, ShapeBuilder, type Schema } from '../../scripts/gen-types';
import { jwt } from '../property/support';

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
}
type Ref = { $ref: string };
interface ContractOperation {
  operationId: string;
  parameters?: (Parameter | Ref)[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
const contract = parse(readFileSync(CONTRACT_PATH, 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, Schema>; parameters: Record<string, Parameter> };
};
const shapes = new ShapeBuilder(contract.components.schemas);

/** What the contract allows one operation's request to carry. */
interface Expected {
  method: string;
  template: string;
  query: Set<string>;
  requiredQuery: string[];
  body:
    { kind: 'application/json' | 'multipart/form-data'; fields: Set<string>; required: string[] } | undefined;
}

const resolveParameter = (p: Parameter | Ref): Parameter =>
  '$ref' in p ? contract.components.parameters[p.$ref.split('/').pop() ?? '']! : p;

const EXPECTED = new Map<string, Expected>(
  Object.entries(contract.paths).flatMap(([template, item]) =>
    METHODS.flatMap((method) => {
      const op = item[method] as ContractOperation | undefined;
      if (!op) return [];
      const parameters = [...((item.parameters as (Parameter | Ref)[]) ?? []), ...(op.parameters ?? [])].map(
        resolveParameter,
      );
      const query = parameters.filter((p) => p.in === 'query');
      const [kind, content] = Object.entries(op.requestBody?.content ?? {})[0] ?? [];
      const shape = content && shapes.shape(content.schema, op.operationId);
      const expected: Expected = {
        method: method.toUpperCase(),
        template,
        query: new Set(query.map((p) => p.name)),
        requiredQuery: query.filter((p) => p.required).map((p) => p.name),
        body: shape && {
          kind: kind as 'application/json' | 'multipart/form-data',
          fields: new Set(Object.keys(shape.fields ?? {})),
          required: shape.required ?? [],
        },
      };
      return [[op.operationId, expected] as const];
    }),
  ),
);

interface Recorded {
  method: string;
  path: string;
  query: string[];
  contentType: string;
  /** The JSON body's keys or the form's part names; undefined without a body. */
  fields: string[] | undefined;
}

async function fieldsOf(req: http.IncomingMessage, body: Buffer): Promise<string[] | undefined> {
  if (body.length === 0) return undefined;
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('application/json')) return Object.keys(JSON.parse(body.toString('utf8')) as object);
  if (!type.startsWith('multipart/form-data')) return [`<a body of type ${type}>`];
  return new Promise((resolve, reject) => {
    const names: string[] = [];
    const parser = busboy({ headers: req.headers });
    parser.on('field', (name) => names.push(name));
    parser.on('file', (name, stream) => {
      names.push(name);
      stream.resume();
    });
    parser.on('close', () => resolve(names));
    parser.on('error', reject);
    parser.end(body);
  });
}

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]);
/** Each path argument is its contract parameter's name plus this, so its slot can be checked. */
const id = (name: string) => `${name}-v`;

describe('the client conforms to the contract, request by request', function () {
  let server: http.Server;
  let client: IdentitiesClient;
  const recorded: Recorded[] = [];
  const covered = new Set<string>();

  before(async function () {
    const now = Math.floor(Date.now() / 1000);
    // A login's token is renewed at the next request (an hour's life, renewed two hours early); the
    // renewed one never is.
    const loginToken = jwt({ sub: 'u', iat: now, exp: now + 3600 });
    const renewedToken = jwt({ sub: 'u', iat: now, exp: 4_000_000_000 });
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://loopback');
        fieldsOf(req, Buffer.concat(chunks)).then(
          (fields) => {
            recorded.push({
              method: req.method ?? '',
              path: url.pathname,
              query: [...url.searchParams.keys()],
              contentType: (req.headers['content-type'] ?? '').split(';')[0]!,
              fields,
            });
            // The client reads a token from logins; every other answer it reads as JSON or bytes.
            const token = url.pathname.endsWith('/renewToken') ? renewedToken : loginToken;
            res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token }));
          },
          () => res.writeHead(400).end(),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new IdentitiesClient({ baseUrl, username: 'u', password: 'p', renewBeforeMs: 7_200_000 });
  });

  after(async function () {
    client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Sends `call`, then holds each request it made to the contract of `operations`, in order. */
  async function conforms(operations: OperationId[], call: () => Promise<unknown>): Promise<void> {
    const from = recorded.length;
    await call();
    const sent = recorded.slice(from);
    assert.equal(sent.length, operations.length, `requests sent for ${operations.join(', ')}`);
    operations.forEach((operation, i) => {
      const request = sent[i]!;
      const expected = EXPECTED.get(operation);
      assert.ok(expected, `${operation} is not in the contract`);
      assert.equal(request.method, expected.method, `${operation}: method`);
      assert.equal(
        request.path,
        expected.template.replace(/\{(\w+)\}/g, (_, name: string) => id(name)),
        `${operation}: path (each id in its slot)`,
      );
      const unknownQuery = request.query.filter((name) => !expected.query.has(name));
      assert.deepEqual(unknownQuery, [], `${operation}: query parameters the contract lacks`);
      const missingQuery = expected.requiredQuery.filter((name) => !request.query.includes(name));
      assert.deepEqual(missingQuery, [], `${operation}: required query parameters not sent`);
      if (!expected.body) {
        assert.equal(request.fields, undefined, `${operation}: a body the contract does not have`);
      } else {
        assert.equal(request.contentType, expected.body.kind, `${operation}: content type`);
        const fields = request.fields ?? [];
        const unknown = fields.filter((name) => !expected.body?.fields.has(name));
        assert.deepEqual(unknown, [], `${operation}: body fields the contract lacks`);
        const missing = expected.body.required.filter((name) => !fields.includes(name));
        assert.deepEqual(missing, [], `${operation}: required body fields not sent`);
      }
      covered.add(operation);
    });
  }

  const ALL_SWITCHES = {
    largestFaceOnly: true,
    allowDoubleDetection: true,
    includePerson: true,
    includeNames: true,
    includeAddresses: true,
    includeTags: true,
    includeFields: true,
  };
  const sighting = {
    detectorName: 'door',
    ianaTimeZone: 'Europe/Berlin',
    detectTimeUtc: '2026-01-01T00:00:00Z',
  };
  const edgeModel = { croppedAligned: JPEG, embeddings: [0.5, 0.25], recognitionModel: 'arcface' };
  const personId = id('personId');

  it('authenticate and renewToken: the login, then the renewal before the next request', async function () {
    await conforms(['authenticate'], () => client.login());
    await conforms(['renewToken', 'getUserProfile'], () => client.getUserProfile());
  });

  it('face edge: every field the caller may set, and publish without publishWithResponse switches', async function () {
    const everything = { expanded: JPEG, ...sighting, ...edgeModel, ...ALL_SWITCHES };
    await conforms(['publishWithResponse'], () => client.publishWithResponse(everything));
    await conforms(['publish'], () => client.publish(everything));
    await conforms(['publish'], () => client.publish({ expanded: JPEG, detectorName: 'door' }));
    await conforms(['recognize'], () => client.recognize({ ...sighting, ...edgeModel }));
    await conforms(['recognize'], () => client.recognize({ croppedAligned: JPEG, detectorName: 'door' }));
    await conforms(['lookup'], () =>
      client.lookup({ croppedAligned: JPEG, embeddings: [0.5], recognitionModel: 'arcface' }),
    );
    await conforms(['lookup'], () => client.lookup({ croppedAligned: JPEG }));
  });

  it('faces', async function () {
    await conforms(['faceDetect'], () => client.faceDetect({ image: JPEG }));
    await conforms(['faceEnroll'], () =>
      client.faceEnroll({ faceImage: JPEG, photoReferenceId: 'ref', personId, forceEnrollment: true }),
    );
    await conforms(['faceCompare'], () => client.faceCompare({ image1: JPEG, image2: JPEG }));
    await conforms(['checkImageReference'], () => client.checkImageReference(id('referenceId')));
  });

  it('people, their sub-records, photos, documents and detections', async function () {
    await conforms(['queryPeople'], () =>
      client.queryPeople({ tagId: 't', entityFieldName: 'Tier', entityFieldStringValue: 'Gold' }),
    );
    await conforms(['queryPeopleByEntityField'], () =>
      client.queryPeopleByEntityField(id('fieldName'), id('fieldValue')),
    );
    await conforms(['getPerson'], () => client.getPerson(personId));
    await conforms(['getAliases'], () => client.getAliases(personId));
    await conforms(['upsertAlias'], () =>
      client.upsertAlias(personId, {
        personAliasId: 'a',
        firstName: 'Ada',
        lastName: 'Lovelace',
        middleName: null,
        title: 'Dr',
      }),
    );
    await conforms(['deleteAlias'], () => client.deleteAlias(personId, id('aliasId')));
    await conforms(['getPersonTags'], () => client.getPersonTags(personId, { tagName: 'VIP' }));
    await conforms(['upsertPersonTag'], () =>
      client.upsertPersonTag(personId, { tagId: 't', expires: '2027-01-01T00:00:00Z' }),
    );
    await conforms(['deletePersonTag'], () => client.deletePersonTag(personId, id('personTagId')));
    await conforms(['getNotes'], () => client.getNotes(personId));
    await conforms(['upsertNote'], () =>
      client.upsertNote(personId, { noteId: 'n', summary: 'Called', body: 'About the badge', author: 'me' }),
    );
    await conforms(['deleteNote'], () => client.deleteNote(personId, id('noteId')));
    await conforms(['upsertAddress'], () =>
      client.upsertAddress(personId, {
        personAddressId: 'a',
        street: '1 Main St',
        street2: null,
        city: 'London',
        state: 'LDN',
        postalCode: 'N1',
        country: 'UK',
      }),
    );
    await conforms(['getEntityFields'], () => client.getEntityFields(personId, { fieldName: 'Tier' }));
    await conforms(['upsertEntityField'], () =>
      client.upsertEntityField(personId, { entityFieldId: 'f', name: 'Tier', stringValue: 'Gold' }),
    );
    await conforms(['deleteEntityField'], () => client.deleteEntityField(personId, id('entityId')));
    await conforms(['getEnrollmentPhoto'], () => client.getEnrollmentPhoto(id('faceId')));
    await conforms(['getDetectionPhoto'], () => client.getDetectionPhoto(id('faceId'), id('detectionId')));
    await conforms(['uploadFileDocument'], () =>
      client.uploadFileDocument({ personId, name: 'ID', description: 'front', publicId: 'doc', file: 'x' }),
    );
    await conforms(['uploadFileDocument'], () =>
      client.uploadFileDocument({ personId, name: 'ID', file: 'x' }),
    );
    await conforms(['downloadFileDocument'], () => client.downloadFileDocument(personId, id('documentId')));
    const window = { skip: 5, take: 5, epochStartMs: 1, epochEndMs: 2, dateAscending: false };
    await conforms(['getDetectionsByFace'], () => client.getDetectionsByFace(id('faceId'), window));
    await conforms(['getDetectionsByPerson'], () => client.getDetectionsByPerson(personId, window));
  });

  it('tags and entity field settings', async function () {
    const tag = {
      tagName: 'VIP',
      description: 'guests',
      disabled: false,
      defaultExpirePeriod: '30.00:00:00',
    };
    await conforms(['listTags'], () => client.listTags({ tagName: 'VIP' }));
    await conforms(['createTag'], () => client.createTag(tag));
    await conforms(['getTag'], () => client.getTag(id('tagId')));
    await conforms(['updateTag'], () => client.updateTag(id('tagId'), tag));
    await conforms(['deleteTag'], () => client.deleteTag(id('tagId')));
    await conforms(['setStringFieldSetting'], () =>
      client.setStringFieldSetting(id('entityType'), id('fieldId'), {
        name: 'Badge',
        label: 'Badge',
        required: true,
        maxLength: 12,
      }),
    );
    await conforms(['setDatetimeFieldSetting'], () =>
      client.setDatetimeFieldSetting(id('entityType'), id('fieldId'), { name: 'Since', dateOnly: true }),
    );
  });

  it('sent every operation of the contract', function () {
    assert.deepEqual(
      [...EXPECTED.keys()].filter((operation) => !covered.has(operation)),
      [],
      'operations of the contract no test above sent',
    );
  });
});
