/**
 * Every operation of openapi/identities.yaml through IdentitiesClient against the emulator, over real
 * HTTP on loopback: each happy path with its content checked and its body held to the contract, each
 * documented 400/401/403/404, and the documented specifics (no-match nulls, enrollment rollback,
 * includePerson filtering, duplicate-detection prevention, fire-and-forget publish, tag expiry...).
 * The last test checks that the spec exercised every operation and every documented error status.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import sharp from 'sharp';
import {
  ApiError,
  IdentitiesClient,
  type ApiErrorCode,
  type ClientOptions,
  type Alias,
  type AliasUpsert,
  type AddressUpsert,
  type EntityField,
  type Note,
  type NoteUpsert,
  type OperationId,
  type PeopleQuery,
  type PersonTag,
  type PublishRequest,
  type Tag,
  type Address,
} from '../../client';
import { ContractRoutes } from '../../emulator/contract';
import { startEmulator, type Emulator } from '../../emulator/server';

/** The contract, read at load time so the error cases can be generated from it. */
const contract = new ContractRoutes();
const ERROR_STATUSES = [400, 401, 403, 404];

function documented(op: string): Set<number> {
  return new Set(Object.keys(contract.operation(op).responses).map(Number));
}

// ---- images: the simple engine sees one face in every image >= 48x48, a different person per byte string ----

const madeImages = new Set<string>();
let colourIndex = 0;

/** A flat-colour JPEG or PNG; every call gives other bytes, so another "person". 32 px: no face. */
async function newImage(format: 'jpeg' | 'png' = 'jpeg', size = 64): Promise<Buffer> {
  const n = colourIndex++;
  const level = (k: number) => 10 + (Math.floor(n / 8 ** k) % 8) * 34;
  const canvas = sharp({
    create: { width: size, height: size, channels: 3, background: { r: level(0), g: level(1), b: level(2) } },
  });
  const image = await (format === 'png' ? canvas.png() : canvas.jpeg()).toBuffer();
  const key = image.toString('base64');
  assert.ok(!madeImages.has(key), 'two test images came out byte-identical');
  madeImages.add(key);
  return image;
}

const noFaceImage = () => newImage('jpeg', 32);
/** JPEG magic bytes, so the client lets it through, but nothing a decoder can read. */
const UNDECODABLE_JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('not a JPEG')]);

const uniq = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

// ---- the emulator, the clients and the records every test may read ----

let emu: Emulator;
const clients: IdentitiesClient[] = [];
let admin: IdentitiesClient;
let edge: IdentitiesClient;
let viewer: IdentitiesClient;
let wrongPassword: IdentitiesClient;
const WRONG_PASSWORD = 'not-the-admin-password';

function newClient(
  username: string,
  password = username,
  extra: Partial<ClientOptions> = {},
): IdentitiesClient {
  const client = new IdentitiesClient({ baseUrl: emu.url, username, password, ...extra });
  clients.push(client);
  return client;
}

/** Ada: enrolled, with an alias, a tag, a field, an address, a note, a document and a detection. */
interface Fixture {
  image: Buffer;
  personId: string;
  faceId: string;
  photoReferenceId: string;
  tag: Tag;
  personTag: PersonTag;
  aliasId: string;
  address: Address;
  noteId: string;
  documentId: string;
  detectId: string;
}
let fx: Fixture;

function publishOf(image: Buffer, extra: Partial<PublishRequest> = {}): PublishRequest {
  return {
    expanded: image,
    detectorName: uniq('cam'),
    ianaTimeZone: 'America/Los_Angeles',
    ...extra,
  };
}

const ALL_SECTIONS = {
  includePerson: true,
  includeNames: true,
  includeAddresses: true,
  includeTags: true,
  includeFields: true,
} as const;

/** A new person enrolled from a new image (or the given one). */
async function enrollNew(
  image?: Buffer,
  photoReferenceId?: string,
): Promise<{ personId: string; faceId: string; image: Buffer }> {
  const faceImage = image ?? (await newImage());
  const { personId } = await admin.faceEnroll({ faceImage, photoReferenceId });
  const { faces } = await admin.getPerson(personId);
  return { personId, faceId: faces[faces.length - 1]!.faceId, image: faceImage };
}

// ---- coverage bookkeeping and assertions ----

const happy = new Set<string>();
const errorsSeen = new Map<string, Set<number>>();

function coverError(op: string, status: number): void {
  errorsSeen.set(op, (errorsSeen.get(op) ?? new Set()).add(status));
}

const countOf = (op: string): number => emu.counts[op] ?? 0;

/** A 200 answer: its body has the documented shape, and the operation counts as exercised. */
function expectContract(op: OperationId, body: unknown): void {
  assert.equal(emu.routes.validateResponse(op, 200, body), undefined, `${op}: 200 body breaks the contract`);
  happy.add(op);
}

async function validated<T>(op: OperationId, pending: Promise<T>): Promise<T> {
  const body = await pending;
  expectContract(op, body);
  return body;
}

/** For binary answers, which validateResponse cannot check: the caller checked the bytes. */
function coverBinary(op: OperationId): void {
  happy.add(op);
}

function assertIncludes(actual: object, expected: Record<string, unknown>, what: string): void {
  const picked = Object.fromEntries(Object.keys(expected).map((key) => [key, Reflect.get(actual, key)]));
  assert.deepEqual(picked, expected, what);
}

interface ErrorCase {
  op: OperationId;
  status: number | undefined;
  code: ApiErrorCode;
  why: string;
  call: () => Promise<unknown>;
  /** Matched against the error message, which starts with the operation's name. */
  detail?: RegExp;
  /** Requests the operation's endpoint receives: 0 when the client fails before sending. */
  hits: number;
}

async function expectApiError(c: ErrorCase): Promise<ApiError> {
  if (c.status !== undefined) {
    assert.ok(documented(c.op).has(c.status), `${c.status} is not documented for ${c.op}`);
  }
  const before = countOf(c.op);
  let caught: unknown;
  try {
    await c.call();
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof ApiError,
    `${c.op}: expected ApiError ${c.code}, got ${caught === undefined ? 'success' : String(caught)}`,
  );
  assert.deepEqual(
    { operation: caught.operation, code: caught.code, status: caught.status },
    { operation: c.op, code: c.code, status: c.status },
    caught.message,
  );
  assert.ok(caught.message.startsWith(`${c.op}: `), `message does not name ${c.op}: ${caught.message}`);
  if (c.detail) assert.match(caught.message, c.detail);
  assert.equal(countOf(c.op) - before, c.hits, `requests that reached ${c.op}`);
  if (c.status !== undefined) coverError(c.op, c.status);
  return caught;
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`${what}: not seen within ${timeoutMs} ms`);
    await delay(10);
  }
}

/** A request outside the client, for what the client will not send. */
async function raw(
  method: string,
  path: string,
  init: { token?: string; json?: unknown } = {},
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${emu.url}${path}`, {
    method,
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

async function rawToken(username: string): Promise<string> {
  const { status, body } = await raw('POST', '/api/v1/authenticate', {
    json: { username, password: username },
  });
  assert.equal(status, 200);
  expectContract('authenticate', body);
  return (body as { token: string }).token;
}

// ---- one valid call per operation, on Ada's records: the 401 and 403 cases send these ----

type SampleOp = Exclude<OperationId, 'authenticate' | 'renewToken'>;

const validCall: Record<SampleOp, (c: IdentitiesClient) => Promise<unknown>> = {
  getUserProfile: (c) => c.getUserProfile(),
  publishWithResponse: (c) => c.publishWithResponse(publishOf(fx.image)),
  publish: (c) => c.publish(publishOf(fx.image)),
  recognize: (c) => c.recognize({ croppedAligned: fx.image }),
  lookup: (c) => c.lookup({ croppedAligned: fx.image }),
  faceDetect: (c) => c.faceDetect({ image: fx.image }),
  faceEnroll: (c) => c.faceEnroll({ faceImage: fx.image, personId: fx.personId }),
  faceCompare: (c) => c.faceCompare({ image1: fx.image, image2: fx.image }),
  checkImageReference: (c) => c.checkImageReference(fx.photoReferenceId),
  queryPeople: (c) => c.queryPeople({ tagId: fx.tag.tagId }),
  getPerson: (c) => c.getPerson(fx.personId),
  getAliases: (c) => c.getAliases(fx.personId),
  upsertAlias: (c) => c.upsertAlias(fx.personId, { aliasId: fx.aliasId, firstName: 'Ada' }),
  deleteAlias: (c) => c.deleteAlias(fx.personId, fx.aliasId),
  getPersonTags: (c) => c.getPersonTags(fx.personId),
  upsertPersonTag: (c) => c.upsertPersonTag(fx.personId, { tagId: fx.tag.tagId, expires: null }),
  deletePersonTag: (c) => c.deletePersonTag(fx.personId, fx.tag.tagId),
  getNotes: (c) => c.getNotes(fx.personId),
  upsertNote: (c) => c.upsertNote(fx.personId, { noteId: fx.noteId, text: 'fixture' }),
  deleteNote: (c) => c.deleteNote(fx.personId, fx.noteId),
  upsertAddress: (c) => c.upsertAddress(fx.personId, { addressId: fx.address.addressId, city: 'London' }),
  getEntityFields: (c) => c.getEntityFields(fx.personId),
  upsertEntityField: (c) => c.upsertEntityField(fx.personId, { name: 'LoyaltyTier', stringValue: 'Gold' }),
  deleteEntityField: (c) => c.deleteEntityField(fx.personId, 'LoyaltyTier'),
  getEnrollmentPhoto: (c) => c.getEnrollmentPhoto(fx.faceId),
  getDetectionPhoto: (c) => c.getDetectionPhoto(fx.faceId, fx.detectId),
  uploadFileDocument: (c) =>
    c.uploadFileDocument({ personId: fx.personId, name: 'fixture', publicId: fx.documentId, file: 'x' }),
  downloadFileDocument: (c) => c.downloadFileDocument(fx.personId, fx.documentId),
  getDetectionsByFace: (c) => c.getDetectionsByFace(fx.faceId),
  getDetectionsByPerson: (c) => c.getDetectionsByPerson(fx.personId),
  listTags: (c) => c.listTags(),
  createTag: (c) => c.createTag({ name: uniq('never') }),
  getTag: (c) => c.getTag(fx.tag.tagId),
  updateTag: (c) => c.updateTag(fx.tag.tagId, { name: fx.tag.name }),
  deleteTag: (c) => c.deleteTag(fx.tag.tagId),
  setStringFieldSetting: (c) => c.setStringFieldSetting('Person', 'badge', { name: 'Badge' }),
  setDatetimeFieldSetting: (c) => c.setDatetimeFieldSetting('Person', 'since', { name: 'Since' }),
};
const sampleOps = Object.keys(validCall) as SampleOp[];

/** The demo user (edge or viewer) that holds none of the permissions the operation needs. */
function clientLacking(op: OperationId): IdentitiesClient {
  const needs = emu.routes.routes.find((route) => route.operationId === op)?.permissions ?? [];
  for (const [name, client] of [
    ['edge', edge],
    ['viewer', viewer],
  ] as const) {
    const held = emu.users.get(name)!.permissions;
    if (needs.length > 0 && !needs.some((permission) => held.has(permission))) return client;
  }
  return assert.fail(`neither edge nor viewer lacks every permission of ${op}`);
}

async function withRejectedTokens<T>(work: () => Promise<T>): Promise<T> {
  emu.faults.rejectTokens = true;
  try {
    return await work();
  } finally {
    emu.faults.rejectTokens = false;
  }
}

const NOT_A_UUID = 'not-a-uuid';
const UNKNOWN = randomUUID();

const badRequest = (
  op: OperationId,
  why: string,
  detail: RegExp,
  call: () => Promise<unknown>,
): ErrorCase => ({ op, status: 400, code: 'BAD_REQUEST', why, call, detail, hits: 1 });

const notFound = (op: OperationId, why: string, call: () => Promise<unknown>): ErrorCase => ({
  op,
  status: 404,
  code: 'NOT_FOUND',
  why,
  call,
  detail: /HTTP 404: .*not found/,
  hits: 1,
});

const UUID_FORMAT = (name: string) => new RegExp(`${name} must match format "uuid"`);

/** The documented 400s and 404s, each with input that passes the client's own checks. */
const handWrittenCases: ErrorCase[] = [
  badRequest('authenticate', 'an empty username', /must NOT have fewer than 1/, () =>
    newClient('', 'x').login(),
  ),
  badRequest('publishWithResponse', 'an empty detectorName', /detectorName/, () =>
    admin.publishWithResponse(publishOf(fx.image, { detectorName: '' })),
  ),
  badRequest('publish', 'an empty detectorName', /detectorName/, () =>
    admin.publish(publishOf(fx.image, { detectorName: '' })),
  ),
  badRequest('recognize', 'embeddings of 5 values', /embeddings must hold 128 finite numbers, got 5/, () =>
    admin.recognize({ croppedAligned: fx.image, embeddings: [1, 2, 3, 4, 5] }),
  ),
  badRequest(
    'lookup',
    'an Embeddings file of 127 float32 values',
    /Embeddings must be 128 .* got 508 bytes/,
    () => admin.lookup({ croppedAligned: fx.image, embeddings: new Float32Array(127) }),
  ),
  badRequest('faceDetect', 'an undecodable JPEG', /not a decodable/, () =>
    admin.faceDetect({ image: UNDECODABLE_JPEG }),
  ),
  badRequest('faceEnroll', 'a personId that is not a uuid', UUID_FORMAT('personId'), () =>
    admin.faceEnroll({ faceImage: fx.image, personId: NOT_A_UUID }),
  ),
  badRequest('faceCompare', 'an image2 without a face', /image2 has no face/, async () =>
    admin.faceCompare({ image1: fx.image, image2: await noFaceImage() }),
  ),
  badRequest(
    'queryPeople',
    'entityFieldValue without entityFieldName',
    /entityFieldValue needs entityFieldName/,
    () => admin.queryPeople({ entityFieldValue: 'Gold' }),
  ),
  badRequest('upsertAlias', 'a personId in the path that is not a uuid', UUID_FORMAT('personId'), () =>
    admin.upsertAlias(NOT_A_UUID, { firstName: 'X' }),
  ),
  badRequest('deleteAlias', 'an aliasId that is not a uuid', UUID_FORMAT('aliasId'), () =>
    admin.deleteAlias(fx.personId, NOT_A_UUID),
  ),
  badRequest('upsertPersonTag', 'a tagId that is not a uuid', UUID_FORMAT('tagId'), () =>
    admin.upsertPersonTag(fx.personId, { tagId: NOT_A_UUID }),
  ),
  badRequest('deletePersonTag', 'a personId in the path that is not a uuid', UUID_FORMAT('personId'), () =>
    admin.deletePersonTag(NOT_A_UUID, fx.tag.tagId),
  ),
  badRequest('upsertNote', 'an empty text', /text/, () => admin.upsertNote(fx.personId, { text: '' })),
  badRequest('deleteNote', 'a noteId that is not a uuid', UUID_FORMAT('noteId'), () =>
    admin.deleteNote(fx.personId, NOT_A_UUID),
  ),
  badRequest('upsertAddress', 'an empty address', /fewer than 1 properties/, () =>
    admin.upsertAddress(fx.personId, {}),
  ),
  badRequest('upsertEntityField', 'an empty name', /name/, () =>
    admin.upsertEntityField(fx.personId, { name: '' }),
  ),
  badRequest('deleteEntityField', 'a personId in the path that is not a uuid', UUID_FORMAT('personId'), () =>
    admin.deleteEntityField(NOT_A_UUID, 'LoyaltyTier'),
  ),
  badRequest('uploadFileDocument', 'an empty name', /name/, () =>
    admin.uploadFileDocument({ personId: fx.personId, name: '', file: 'x' }),
  ),
  badRequest('createTag', 'the name of an existing tag', /exists already/, () =>
    admin.createTag({ name: fx.tag.name }),
  ),
  badRequest('updateTag', 'an empty name', /name/, () => admin.updateTag(fx.tag.tagId, { name: '' })),
  badRequest('setStringFieldSetting', 'a maxLength of 0', /maxLength/, () =>
    admin.setStringFieldSetting('Person', 'badge', { name: 'Badge', maxLength: 0 }),
  ),
  badRequest('setDatetimeFieldSetting', 'an empty name', /name/, () =>
    admin.setDatetimeFieldSetting('Person', 'since', { name: '' }),
  ),
  ...(
    [
      ['getPerson', 'personId', () => admin.getPerson(NOT_A_UUID)],
      ['getAliases', 'personId', () => admin.getAliases(NOT_A_UUID)],
      ['getPersonTags', 'personId', () => admin.getPersonTags(NOT_A_UUID)],
      ['getNotes', 'personId', () => admin.getNotes(NOT_A_UUID)],
      ['getEntityFields', 'personId', () => admin.getEntityFields(NOT_A_UUID)],
      ['downloadFileDocument', 'personId', () => admin.downloadFileDocument(NOT_A_UUID, 'doc')],
      ['getDetectionsByPerson', 'personId', () => admin.getDetectionsByPerson(NOT_A_UUID)],
      ['getTag', 'tagId', () => admin.getTag(NOT_A_UUID)],
      ['deleteTag', 'tagId', () => admin.deleteTag(NOT_A_UUID)],
    ] as const
  ).map(([op, param, call]) =>
    badRequest(op, `a ${param} in the path that is not a uuid`, UUID_FORMAT(param), call),
  ),
  notFound('faceEnroll', 'an unknown personId', () =>
    admin.faceEnroll({ faceImage: fx.image, personId: UNKNOWN }),
  ),
  notFound('getPerson', 'an unknown person', () => admin.getPerson(UNKNOWN)),
  notFound('getAliases', 'an unknown person', () => admin.getAliases(UNKNOWN)),
  notFound('upsertAlias', 'an unknown person', () => admin.upsertAlias(UNKNOWN, { firstName: 'X' })),
  notFound('deleteAlias', 'an alias Ada does not have', () => admin.deleteAlias(fx.personId, UNKNOWN)),
  notFound('getPersonTags', 'an unknown person', () => admin.getPersonTags(UNKNOWN)),
  notFound('upsertPersonTag', 'an unknown tag', () => admin.upsertPersonTag(fx.personId, { tagId: UNKNOWN })),
  notFound('deletePersonTag', 'a tag Ada does not have', () => admin.deletePersonTag(fx.personId, UNKNOWN)),
  notFound('getNotes', 'an unknown person', () => admin.getNotes(UNKNOWN)),
  notFound('upsertNote', 'an unknown person', () => admin.upsertNote(UNKNOWN, { text: 'x' })),
  notFound('deleteNote', 'a note Ada does not have', () => admin.deleteNote(fx.personId, UNKNOWN)),
  notFound('upsertAddress', 'an unknown person', () => admin.upsertAddress(UNKNOWN, { city: 'X' })),
  notFound('getEntityFields', 'an unknown person', () => admin.getEntityFields(UNKNOWN)),
  notFound('upsertEntityField', 'an unknown person', () => admin.upsertEntityField(UNKNOWN, { name: 'X' })),
  notFound('deleteEntityField', 'a field Ada does not have', () =>
    admin.deleteEntityField(fx.personId, 'Nope'),
  ),
  notFound('getEnrollmentPhoto', 'an unknown faceId', () => admin.getEnrollmentPhoto(UNKNOWN)),
  notFound('getDetectionPhoto', 'an unknown detectionId', () => admin.getDetectionPhoto(fx.faceId, UNKNOWN)),
  notFound('uploadFileDocument', 'an unknown person', () =>
    admin.uploadFileDocument({ personId: UNKNOWN, name: 'x', file: 'x' }),
  ),
  notFound('downloadFileDocument', 'an unknown documentId', () =>
    admin.downloadFileDocument(fx.personId, UNKNOWN),
  ),
  notFound('getDetectionsByPerson', 'an unknown person', () => admin.getDetectionsByPerson(UNKNOWN)),
  notFound('getTag', 'an unknown tag', () => admin.getTag(UNKNOWN)),
  notFound('updateTag', 'an unknown tag', () => admin.updateTag(UNKNOWN, { name: uniq('x') })),
  notFound('deleteTag', 'an unknown tag', () => admin.deleteTag(UNKNOWN)),
  {
    op: 'authenticate',
    status: 401,
    code: 'AUTH_FAILED',
    why: 'a wrong password',
    call: () => wrongPassword.login(),
    detail: /wrong username or password for user "admin"/,
    hits: 1,
  },
];

/** 401 and 403 for every operation that documents them, generated from the contract. */
const generatedCases: ErrorCase[] = sampleOps.flatMap((op) => {
  const statuses = documented(op);
  const cases: ErrorCase[] = [];
  if (statuses.has(401)) {
    cases.push(
      {
        op,
        status: 401,
        code: 'AUTH_FAILED',
        why: 'a client with a wrong password (its login fails, nothing is sent)',
        call: () => validCall[op](wrongPassword),
        detail: /wrong username or password/,
        hits: 0,
      },
      {
        op,
        status: 401,
        code: 'AUTH_FAILED',
        why: 'a token the server refuses (one re-login and replay, refused again)',
        call: () => withRejectedTokens(() => validCall[op](newClient('admin'))),
        detail: /rejected a freshly obtained token \(HTTP 401: Invalid or expired token\)/,
        hits: 2,
      },
    );
  }
  if (statuses.has(403)) {
    cases.push({
      op,
      status: 403,
      code: 'FORBIDDEN',
      why: 'a user without the permission',
      call: () => validCall[op](clientLacking(op)),
      detail: new RegExp(`^${op}: HTTP 403: The user lacks the permission`),
      hits: 1,
    });
  }
  return cases;
});

describe('IdentitiesClient x emulator: every operation of the contract', function () {
  before(async function () {
    emu = await startEmulator({ port: 0, https: false, engine: 'simple' });
    admin = newClient('admin');
    edge = newClient('edge');
    viewer = newClient('viewer');
    wrongPassword = newClient('admin', WRONG_PASSWORD);

    const photoReferenceId = uniq('ref');
    const { personId, faceId, image } = await enrollNew(undefined, photoReferenceId);
    const tag = await admin.createTag({ name: uniq('VIP') });
    const alias = await admin.upsertAlias(personId, { firstName: 'Ada', lastName: 'Lovelace' });
    const personTag = await admin.upsertPersonTag(personId, { tagId: tag.tagId });
    await admin.upsertEntityField(personId, { name: 'LoyaltyTier', stringValue: 'Gold' });
    const address = await admin.upsertAddress(personId, { addressType: 'Home', city: 'London' });
    const note = await admin.upsertNote(personId, { text: 'fixture' });
    const documentId = uniq('doc');
    await admin.uploadFileDocument({
      personId,
      name: 'fixture',
      publicId: documentId,
      file: 'fixture document',
    });
    const { detectedFaces } = await admin.publishWithResponse(publishOf(image));
    fx = {
      image,
      personId,
      faceId,
      photoReferenceId,
      tag,
      personTag,
      aliasId: alias.aliasId!,
      address,
      noteId: note.noteId,
      documentId,
      detectId: detectedFaces[0]!.detectId,
    };
  });

  after(async function () {
    for (const client of clients) client.close();
    await emu?.close();
  });

  describe('authentication', function () {
    it('authenticate: login() obtains a token that later calls use without logging in again', async function () {
      const logins = countOf('authenticate');
      const client = newClient('viewer');
      await client.login();
      assert.equal(countOf('authenticate'), logins + 1);
      assert.equal((await client.getUserProfile()).userName, 'viewer');
      assert.equal(countOf('authenticate'), logins + 1);
      // The body itself, which the client keeps to itself: {token, expiration}.
      const token = await rawToken('viewer');
      assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    });

    it('authenticate: the 401 message never holds the password', async function () {
      const err = await expectApiError(
        handWrittenCases.find((c) => c.op === 'authenticate' && c.status === 401)!,
      );
      assert.ok(!err.message.includes(WRONG_PASSWORD), err.message);
    });

    it('renewToken: a client renewing early renews on its second call instead of logging in', async function () {
      const client = newClient('viewer', 'viewer', { renewBeforeMs: 3_600_000 });
      const renewals = countOf('renewToken');
      const logins = countOf('authenticate');
      await client.getUserProfile();
      assert.equal(countOf('renewToken'), renewals);
      assert.equal((await client.getUserProfile()).userName, 'viewer');
      assert.equal(countOf('renewToken'), renewals + 1);
      assert.equal(countOf('authenticate'), logins + 1);

      const token = await rawToken('viewer');
      const renewed = await raw('GET', '/api/v1/renewToken', { token });
      assert.equal(renewed.status, 200);
      expectContract('renewToken', renewed.body);
      const fresh = (renewed.body as { token: string }).token;
      assert.notEqual(fresh, token);
      assert.equal((await raw('GET', '/auth/v1/user/profile', { token: fresh })).status, 200);
    });

    it('renewToken: an invalid token is answered 401 with a problem body', async function () {
      const { status, body } = await raw('GET', '/api/v1/renewToken', { token: 'a.b.c' });
      assert.equal(status, 401);
      assert.equal(emu.routes.validateResponse('renewToken', 401, body), undefined);
      coverError('renewToken', 401);
    });

    it('getUserProfile: name, email, roles and permissions of the caller, without the token', async function () {
      const profile = await admin.getUserProfile();
      assert.ok(!('token' in profile));
      expectContract('getUserProfile', { ...profile, token: 'kept by the client' });
      const everyPermission = [...new Set(emu.routes.routes.flatMap((route) => route.permissions ?? []))];
      assertIncludes(
        profile,
        { userName: 'admin', email: 'admin@identities.test', roles: ['Administrator'] },
        'admin',
      );
      assert.deepEqual(
        everyPermission.filter((p) => !profile.permissions?.includes(p)),
        [],
        'admin holds every permission',
      );
      assert.deepEqual(await edge.getUserProfile(), {
        userName: 'edge',
        email: 'edge@identities.test',
        roles: ['Edge Device'],
        permissions: ['Face Publishing', 'Face Recognize'],
      });
    });
  });

  describe('face edge', function () {
    it('publishWithResponse: a known face comes back with every requested section of its person', async function () {
      const result = await admin.publishWithResponse(
        publishOf(fx.image, { largestFaceOnly: true, ...ALL_SECTIONS }),
      );
      expectContract('publishWithResponse', result);
      assert.equal(result.detectedFaces.length, 1);
      const [face] = result.detectedFaces;
      assertIncludes(
        face!,
        { faceId: fx.faceId, boundingBox: { x: 0, y: 0, width: 64, height: 64 } },
        'the enrolled face',
      );
      assert.deepEqual(face!.person, {
        personId: fx.personId,
        friendlyName: 'Ada Lovelace',
        aliases: [
          { aliasId: fx.aliasId, firstName: 'Ada', lastName: 'Lovelace', middleName: null, title: null },
        ],
        addresses: [fx.address],
        personTags: [fx.personTag],
        entityFields: [
          { name: 'LoyaltyTier', stringValue: 'Gold', dateValue: null, numberValue: null, boolValue: null },
        ],
      });
      const recorded = await admin.getDetectionsByFace(fx.faceId);
      assert.ok(recorded.some((d) => d.detectId === face!.detectId && d.personId === fx.personId));
    });

    it('publishWithResponse: only the requested sections; none without includePerson', async function () {
      const namesOnly = await admin.publishWithResponse(
        publishOf(fx.image, { includePerson: true, includeNames: true }),
      );
      expectContract('publishWithResponse', namesOnly);
      assert.deepEqual(Object.keys(namesOnly.detectedFaces[0]!.person!).sort(), [
        'aliases',
        'friendlyName',
        'personId',
      ]);
      const plain = await admin.publishWithResponse(publishOf(fx.image, { includeNames: true }));
      assert.equal(plain.detectedFaces[0]!.faceId, fx.faceId);
      assert.ok(!('person' in plain.detectedFaces[0]!));
    });

    it('publishWithResponse, set*FieldSetting: flags with a contract default may be left out', async function () {
      const published = await admin.publishWithResponse({ expanded: fx.image, detectorName: uniq('cam') });
      expectContract('publishWithResponse', published);
      assert.equal(published.detectedFaces[0]?.faceId, fx.faceId);
      assert.ok(!('person' in published.detectedFaces[0]!), 'includePerson defaults to false');
      const plain = await admin.setStringFieldSetting('Person', uniq('plain'), { name: 'Plain' });
      assertIncludes(plain, { required: false, maxLength: null }, 'string setting defaults');
      const when = await admin.setDatetimeFieldSetting('Person', uniq('when'), { name: 'When' });
      assertIncludes(when, { required: false, dateOnly: false }, 'datetime setting defaults');
    });

    it('publishWithResponse: sections the caller may not read are omitted silently', async function () {
      const asEdge = await edge.publishWithResponse(publishOf(fx.image, ALL_SECTIONS));
      expectContract('publishWithResponse', asEdge);
      assert.deepEqual(asEdge.detectedFaces[0]!.person, { personId: fx.personId });
      const asAdmin = await admin.publishWithResponse(publishOf(fx.image, ALL_SECTIONS));
      assert.deepEqual(Object.keys(asAdmin.detectedFaces[0]!.person!).sort(), [
        'addresses',
        'aliases',
        'entityFields',
        'friendlyName',
        'personId',
        'personTags',
      ]);
    });

    it('publishWithResponse: an unknown face has no person; an image without a face gives no faces', async function () {
      const stranger = await admin.publishWithResponse(publishOf(await newImage('png'), ALL_SECTIONS));
      expectContract('publishWithResponse', stranger);
      assert.equal(stranger.detectedFaces.length, 1);
      assert.notEqual(stranger.detectedFaces[0]!.faceId, fx.faceId);
      assert.ok(!('person' in stranger.detectedFaces[0]!));
      const nobody = await admin.publishWithResponse(
        publishOf(await noFaceImage(), { largestFaceOnly: true, ...ALL_SECTIONS }),
      );
      expectContract('publishWithResponse', nobody);
      assert.deepEqual(nobody.detectedFaces, []);
    });

    it('publishWithResponse: the same face from the same detector within the window is one detection', async function () {
      const { faceId, image } = await enrollNew();
      const detectorName = uniq('door');
      const publishIds = async (extra: Partial<PublishRequest>) =>
        (await admin.publishWithResponse(publishOf(image, { detectorName, ...extra }))).detectedFaces.map(
          (face) => face.detectId,
        );
      const [first] = await publishIds({});
      assert.deepEqual(await publishIds({ largestFaceOnly: true }), [first]);
      const [otherDetector] = (await admin.publishWithResponse(publishOf(image))).detectedFaces.map(
        (f) => f.detectId,
      );
      assert.notEqual(otherDetector, first);
      const [double1] = await publishIds({ allowDoubleDetection: true });
      const [double2] = await publishIds({ allowDoubleDetection: true });
      assert.equal(new Set([first, double1, double2]).size, 3, 'allowDoubleDetection gives new detections');
      const recorded = (await admin.getDetectionsByFace(faceId)).filter(
        (d) => d.detectorName === detectorName,
      );
      assert.deepEqual(recorded.map((d) => d.detectId).sort(), [first, double1, double2].sort());
    });

    for (const op of ['publishWithResponse', 'publish'] as const) {
      it(`${op}: an empty image is refused by the client (nothing sent) and by the server (400)`, async function () {
        const counts = { ...emu.counts };
        await expectApiError({
          op,
          status: undefined,
          code: 'INVALID_INPUT',
          why: 'empty image',
          call: () => newClient('admin')[op](publishOf(Buffer.alloc(0))),
          detail: /expanded is empty/,
          hits: 0,
        });
        assert.deepEqual(emu.counts, counts, 'no request reached the server, not even a login');

        const token = await rawToken('admin');
        const { status, body } = await raw('POST', `/api/v1/faceEdge/${op}`, {
          token,
          json: {
            expanded: '',
            detectorName: 'cam',
            ianaTimeZone: 'UTC',
            detectTimeUtc: new Date().toISOString(),
          },
        });
        assert.equal(status, 400);
        assert.equal(emu.routes.validateResponse(op, 400, body), undefined);
        assert.equal((body as { detail: string }).detail, 'Face bytes are empty');
        coverError(op, 400);
      });
    }

    it('publish: answers at once, and the detection shows up afterwards', async function () {
      const detectorName = uniq('gate');
      const result = await admin.publish(
        publishOf(fx.image, { detectorName, detectTimeUtc: '2026-03-01T08:00:00Z', ...ALL_SECTIONS }),
      );
      assert.equal(result, undefined);
      expectContract('publish', result);
      const detection = await eventually('the published detection', async () =>
        (await admin.getDetectionsByPerson(fx.personId)).find((d) => d.detectorName === detectorName),
      );
      assertIncludes(
        detection,
        { faceId: fx.faceId, personId: fx.personId, detectTimeUtc: '2026-03-01T08:00:00Z' },
        'the detection',
      );
    });

    it('recognize: the enrolled face gives its EdgePerson; another face or no face gives null', async function () {
      const person = await edge.recognize({ croppedAligned: fx.image });
      expectContract('recognize', person);
      assert.deepEqual(person, {
        faceId: fx.faceId,
        personId: fx.personId,
        firstName: 'Ada',
        lastName: 'Lovelace',
        tags: [{ name: fx.tag.name }],
      });
      const reached = countOf('recognize');
      assert.equal(await edge.recognize({ croppedAligned: await newImage() }), null);
      assert.equal(await edge.recognize({ croppedAligned: await noFaceImage() }), null);
      assert.equal(countOf('recognize'), reached + 2, 'both nulls are the server 404');
      coverError('recognize', 404);
      const byEmbeddings = await edge.recognize({
        croppedAligned: await newImage(),
        embeddings: emu.store.face(fx.faceId)!.descriptor,
      });
      assert.equal(byEmbeddings?.personId, fx.personId);
    });

    it('lookup: the enrolled face gives its EdgePerson; another face or no face gives null', async function () {
      const person = await edge.lookup({ croppedAligned: fx.image, recognitionModel: 'arcface' });
      expectContract('lookup', person);
      assertIncludes(person!, { faceId: fx.faceId, personId: fx.personId, firstName: 'Ada' }, 'EdgePerson');
      const reached = countOf('lookup');
      assert.equal(await edge.lookup({ croppedAligned: await newImage('png') }), null);
      assert.equal(await edge.lookup({ croppedAligned: await noFaceImage() }), null);
      assert.equal(countOf('lookup'), reached + 2, 'both nulls are the server 404');
      coverError('lookup', 404);
    });

    it('lookup: an Embeddings file of an enrolled face (128 float32) matches whatever the image', async function () {
      const descriptor = emu.store.face(fx.faceId)!.descriptor;
      assert.equal(descriptor.length, 128);
      const person = await admin.lookup({
        croppedAligned: await newImage(),
        embeddings: Float32Array.from(descriptor),
        recognitionModel: 'arcface',
      });
      expectContract('lookup', person);
      assertIncludes(person!, { faceId: fx.faceId, personId: fx.personId }, 'matched by embeddings');
    });
  });

  describe('faces', function () {
    it('faceDetect: a known face with its personId, a stranger with null, no face with nothing', async function () {
      const known = await admin.faceDetect({ image: fx.image });
      expectContract('faceDetect', known);
      assert.equal(known.detections.length, 1);
      assertIncludes(
        known.detections[0]!,
        { faceId: fx.faceId, personId: fx.personId, boundingBox: { x: 0, y: 0, width: 64, height: 64 } },
        'known face',
      );
      const stranger = await admin.faceDetect({ image: await newImage('png') });
      expectContract('faceDetect', stranger);
      assert.equal(stranger.detections[0]?.personId, null);
      assert.deepEqual((await admin.faceDetect({ image: await noFaceImage() })).detections, []);
    });

    it('faceEnroll: creates a person, or adds a face to an existing one with personId', async function () {
      const photoReferenceId = uniq('ext');
      const created = await admin.faceEnroll({ faceImage: await newImage(), photoReferenceId });
      expectContract('faceEnroll', created);
      const person = await admin.getPerson(created.personId);
      assert.deepEqual(
        person.faces.map((f) => f.photoReferenceId),
        [photoReferenceId],
      );

      const second = await newImage('png');
      const added = await admin.faceEnroll({
        faceImage: second,
        personId: created.personId,
        forceEnrollment: true,
      });
      expectContract('faceEnroll', added);
      assert.equal(added.personId, created.personId);
      assert.equal((await admin.getPerson(created.personId)).faces.length, 2);
      assert.equal((await admin.recognize({ croppedAligned: second }))?.personId, created.personId);
    });

    it("faceEnroll: no face in a new person's image answers 500 and rolls the new person back", async function () {
      const people = async () => (await admin.queryPeople({ take: 1000 })).length;
      const before = await people();
      const tiny = await noFaceImage();
      await expectApiError({
        op: 'faceEnroll',
        status: 500,
        code: 'SERVER_ERROR',
        why: 'no face',
        call: () => admin.faceEnroll({ faceImage: tiny }),
        detail: /Image rejected: no face found/,
        hits: 1,
      });
      assert.equal(await people(), before, 'the just-created person was rolled back');

      // An existing person is not deleted by a failed enrollment of another face.
      await expectApiError({
        op: 'faceEnroll',
        status: 500,
        code: 'SERVER_ERROR',
        why: 'no face, existing person',
        call: () => admin.faceEnroll({ faceImage: tiny, personId: fx.personId }),
        hits: 1,
      });
      assert.equal((await admin.getPerson(fx.personId)).faces.length, 1);
    });

    it('faceCompare: the same face matches, another one does not', async function () {
      const same = await admin.faceCompare({ image1: fx.image, image2: fx.image.toString('base64') });
      expectContract('faceCompare', same);
      assert.deepEqual(same, { match: true, confidence: 1 });
      const different = await admin.faceCompare({ image1: fx.image, image2: await newImage() });
      expectContract('faceCompare', different);
      assert.equal(different.match, false);
      assert.ok(different.confidence < 0.5, `confidence ${different.confidence}`);
    });

    it('checkImageReference: true with the face and its enrollment detection; false for an unknown id', async function () {
      const check = await admin.checkImageReference(fx.photoReferenceId);
      expectContract('checkImageReference', check);
      assertIncludes(check, { exists: true, faceId: fx.faceId }, 'a known reference');
      const enrollment = (await admin.getDetectionsByFace(fx.faceId)).find(
        (d) => d.detectId === check.detectId,
      );
      assert.equal(enrollment?.detectorName, 'enrollment');
      const unknown = await admin.checkImageReference(uniq('never-used'));
      expectContract('checkImageReference', unknown);
      assert.deepEqual(unknown, { exists: false, faceId: null, detectId: null });
    });
  });

  describe('people', function () {
    it('queryPeople: by tagId, tagName, entity field name and value, with skip/take', async function () {
      const [p1, p2, p3] = await Promise.all([enrollNew(), enrollNew(), enrollNew()]).then((people) =>
        people.map((p) => p.personId),
      );
      const [t1, t2] = await Promise.all([
        admin.createTag({ name: uniq('T1') }),
        admin.createTag({ name: uniq('T2') }),
      ]);
      const field = uniq('Badge');
      for (const [personId, tagId] of [
        [p1, t1.tagId],
        [p2, t1.tagId],
        [p2, t2.tagId],
      ] as const) {
        await admin.upsertPersonTag(personId, { tagId });
      }
      await admin.upsertEntityField(p1, { name: field, stringValue: 'B-1' });
      await admin.upsertEntityField(p3, { name: field, numberValue: 3 });

      const ids = async (query: PeopleQuery) => {
        const people = await viewer.queryPeople(query);
        expectContract('queryPeople', people);
        return people.map((p) => p.personId).sort();
      };
      assert.deepEqual(await ids({ tagId: t1.tagId }), [p1, p2].sort());
      assert.deepEqual(await ids({ tagName: t2.name }), [p2]);
      assert.deepEqual(await ids({ tagId: t1.tagId, tagName: t2.name }), [p2]);
      assert.deepEqual(await ids({ entityFieldName: field }), [p1, p3].sort());
      assert.deepEqual(await ids({ entityFieldName: field, entityFieldValue: 'b-1' }), [p1]);
      assert.deepEqual(await ids({ entityFieldName: field, entityFieldValue: '3' }), [p3]);
      assert.deepEqual(await ids({ tagName: uniq('no-such-tag') }), []);
      const pages = [
        ...(await ids({ tagId: t1.tagId, take: 1 })),
        ...(await ids({ tagId: t1.tagId, skip: 1 })),
      ];
      assert.deepEqual(pages.sort(), [p1, p2].sort());
    });

    it('getPerson: the whole record', async function () {
      const person = await viewer.getPerson(fx.personId);
      expectContract('getPerson', person);
      assertIncludes(
        person,
        {
          personId: fx.personId,
          friendlyName: 'Ada Lovelace',
          addresses: [fx.address],
          personTags: [fx.personTag],
        },
        'Ada',
      );
      assert.deepEqual(
        person.faces.map((f) => [f.faceId, f.photoReferenceId]),
        [[fx.faceId, fx.photoReferenceId]],
      );
      assert.deepEqual(
        person.fileDocuments.map((d) => d.publicId),
        [fx.documentId],
      );
    });

    /** Each function validates its own answer against the contract. */
    interface SubRecordSpec<T extends object, U> {
      title: string;
      upsert: (personId: string, body: U) => Promise<T>;
      list: (personId: string) => Promise<T[]>;
      remove?: (personId: string, record: T) => Promise<void>;
      idOf: (record: T) => string;
      create: U;
      created: Record<string, unknown>;
      update: (record: T) => U;
      updated: Record<string, unknown>;
    }

    /** upsert (add) -> listed; upsert (update) -> listed changed, same id; delete -> gone. */
    function subRecordLifecycle<T extends object, U>(spec: SubRecordSpec<T, U>): void {
      it(`${spec.title}: add, update${spec.remove ? ', delete' : ''}`, async function () {
        const { personId } = await enrollNew();
        const stored = await spec.upsert(personId, spec.create);
        assertIncludes(stored, spec.created, `${spec.title}: added`);
        assert.deepEqual(await spec.list(personId), [stored]);

        const changed = await spec.upsert(personId, spec.update(stored));
        assert.equal(spec.idOf(changed), spec.idOf(stored));
        assertIncludes(changed, spec.updated, `${spec.title}: updated`);
        assert.deepEqual(await spec.list(personId), [changed]);

        if (spec.remove) {
          await spec.remove(personId, changed);
          assert.deepEqual(await spec.list(personId), []);
        }
      });
    }

    subRecordLifecycle<Alias, AliasUpsert>({
      title: 'upsertAlias/getAliases/deleteAlias',
      upsert: (personId, body) => validated('upsertAlias', admin.upsertAlias(personId, body)),
      list: (personId) => validated('getAliases', viewer.getAliases(personId)),
      remove: (personId, alias) => validated('deleteAlias', admin.deleteAlias(personId, alias.aliasId!)),
      idOf: (alias) => alias.aliasId!,
      create: { firstName: 'Grace', lastName: 'Hopper', title: 'RAdm' },
      created: { firstName: 'Grace', lastName: 'Hopper', middleName: null, title: 'RAdm' },
      update: (alias) => ({ aliasId: alias.aliasId, middleName: 'Brewster' }),
      updated: { firstName: 'Grace', lastName: 'Hopper', middleName: 'Brewster', title: 'RAdm' },
    });

    subRecordLifecycle<Note, NoteUpsert>({
      title: 'upsertNote/getNotes/deleteNote',
      upsert: (personId, body) => validated('upsertNote', admin.upsertNote(personId, body)),
      list: (personId) => validated('getNotes', viewer.getNotes(personId)),
      remove: (personId, note) => validated('deleteNote', admin.deleteNote(personId, note.noteId)),
      idOf: (note) => note.noteId,
      create: { text: 'Called in' },
      created: { text: 'Called in', modified: null },
      update: (note) => ({ noteId: note.noteId, text: 'Called back' }),
      updated: { text: 'Called back' },
    });

    subRecordLifecycle<EntityField, EntityField>({
      title: 'upsertEntityField/getEntityFields/deleteEntityField',
      upsert: (personId, body) => validated('upsertEntityField', admin.upsertEntityField(personId, body)),
      list: (personId) => validated('getEntityFields', viewer.getEntityFields(personId)),
      remove: (personId, field) =>
        validated('deleteEntityField', admin.deleteEntityField(personId, field.name)),
      idOf: (field) => field.name,
      create: { name: 'LoyaltyTier', stringValue: 'Gold' },
      created: {
        name: 'LoyaltyTier',
        stringValue: 'Gold',
        numberValue: null,
        boolValue: null,
        dateValue: null,
      },
      update: (field) => ({ name: field.name, stringValue: 'Platinum', boolValue: true }),
      updated: { name: 'LoyaltyTier', stringValue: 'Platinum', boolValue: true, numberValue: null },
    });

    subRecordLifecycle<Address, AddressUpsert>({
      title: 'upsertAddress (read back with getPerson)',
      upsert: (personId, body) => validated('upsertAddress', admin.upsertAddress(personId, body)),
      list: async (personId) => (await validated('getPerson', viewer.getPerson(personId))).addresses,
      idOf: (address) => address.addressId,
      create: { addressType: 'Home', city: 'Springfield' },
      created: { addressType: 'Home', city: 'Springfield', line1: null, country: null },
      update: (address) => ({ addressId: address.addressId, city: 'Shelbyville' }),
      updated: { addressType: 'Home', city: 'Shelbyville' },
    });

    it('getPersonTags/upsertPersonTag/deletePersonTag: default expiry, explicit expiry, expired, removed', async function () {
      const { personId } = await enrollNew();
      const tag = await admin.createTag({ name: uniq('Guest'), defaultExpiryDays: 30 });
      const tags = async () => {
        const list = await viewer.getPersonTags(personId);
        expectContract('getPersonTags', list);
        return list;
      };
      const added = await admin.upsertPersonTag(personId, { tagId: tag.tagId });
      expectContract('upsertPersonTag', added);
      assertIncludes(added, { tagId: tag.tagId, tag: { name: tag.name } }, 'person tag');
      const inDays = (Date.parse(added.expires!) - Date.now()) / 86_400_000;
      assert.ok(inDays > 29.9 && inDays <= 30, `default expiry in ${inDays} days`);
      assert.deepEqual(await tags(), [added]);

      const later = '2099-01-01T00:00:00.000Z';
      const moved = await admin.upsertPersonTag(personId, { tagId: tag.tagId, expires: later });
      assert.deepEqual(moved, { ...added, expires: later });
      assert.deepEqual(await tags(), [moved]);

      await admin.upsertPersonTag(personId, { tagId: tag.tagId, expires: '2020-01-01T00:00:00Z' });
      assert.deepEqual(await tags(), [], 'an expired tag is not returned');
      assert.deepEqual((await viewer.getPerson(personId)).personTags, []);
      assert.deepEqual(await viewer.queryPeople({ tagId: tag.tagId }), []);

      await admin.upsertPersonTag(personId, { tagId: tag.tagId, expires: null });
      assert.equal((await tags()).length, 1);
      expectContract('deletePersonTag', await admin.deletePersonTag(personId, tag.tagId));
      assert.deepEqual(await tags(), []);
    });

    it('getEnrollmentPhoto: the enrolled JPEG byte for byte, to any signed-in user; a PNG as a JPEG', async function () {
      const photo = await edge.getEnrollmentPhoto(fx.faceId);
      assert.deepEqual(photo.contentType, 'image/jpeg');
      assert.ok(photo.data.equals(fx.image), 'the enrolled bytes');
      const png = await enrollNew(await newImage('png'));
      const converted = await viewer.getEnrollmentPhoto(png.faceId);
      assert.equal(converted.contentType, 'image/jpeg');
      const meta = await sharp(converted.data).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 64, 64]);
      coverBinary('getEnrollmentPhoto');
    });

    it('getDetectionPhoto: the published JPEG byte for byte', async function () {
      const image = await newImage();
      const [face] = (await admin.publishWithResponse(publishOf(image))).detectedFaces;
      const photo = await edge.getDetectionPhoto(face!.faceId, face!.detectId);
      assert.equal(photo.contentType, 'image/jpeg');
      assert.ok(photo.data.equals(image), 'the published bytes');
      coverBinary('getDetectionPhoto');
    });

    it('getDetectionPhoto: a published PNG is served as the documented JPEG', async function () {
      const [face] = (await admin.publishWithResponse(publishOf(await newImage('png')))).detectedFaces;
      const photo = await admin.getDetectionPhoto(face!.faceId, face!.detectId);
      assert.equal(photo.contentType, 'image/jpeg', 'docs and contract: detection photos are image/jpeg');
      assert.equal((await sharp(photo.data).metadata()).format, 'jpeg');
    });

    it('uploadFileDocument/downloadFileDocument: bytes, content type and file name round-trip', async function () {
      const { personId } = await enrollNew();
      const pdf = Buffer.from('%PDF-1.4\n% ID card\n%%EOF\n');
      const upload = {
        personId,
        name: 'ID Card',
        description: 'Front of ID',
        publicId: uniq('card'),
        file: pdf,
        fileName: 'id-card.pdf',
        contentType: 'application/pdf',
      };
      expectContract('uploadFileDocument', await admin.uploadFileDocument(upload));
      const listed = (await admin.getPerson(personId)).fileDocuments;
      assert.deepEqual(listed, [
        {
          publicId: upload.publicId,
          name: 'ID Card',
          description: 'Front of ID',
          fileName: 'id-card.pdf',
          contentType: 'application/pdf',
          size: pdf.length,
        },
      ]);
      const download = await viewer.downloadFileDocument(personId, upload.publicId);
      assert.deepEqual(download, { data: pdf, contentType: 'application/pdf', fileName: 'id-card.pdf' });
      coverBinary('downloadFileDocument');

      // The same publicId replaces; without one the server makes one up.
      await admin.uploadFileDocument({ ...upload, file: 'version 2', contentType: 'text/plain' });
      await admin.uploadFileDocument({ personId, name: 'Notes', file: 'no id given' });
      const documents = (await admin.getPerson(personId)).fileDocuments;
      assert.equal(documents.length, 2);
      const generated = documents.find((d) => d.publicId !== upload.publicId)!;
      assert.match(generated.publicId, /^[0-9a-f-]{36}$/);
      assert.equal(
        (await admin.downloadFileDocument(personId, generated.publicId)).data.toString(),
        'no id given',
      );
      assert.deepEqual(await admin.downloadFileDocument(personId, upload.publicId), {
        data: Buffer.from('version 2'),
        contentType: 'text/plain',
        fileName: 'id-card.pdf',
      });
    });

    it('uploadFileDocument/downloadFileDocument: a non-ASCII file name round-trips', async function () {
      const fileName = 'Ausweis Müller €.pdf';
      const { personId } = await enrollNew();
      await admin.uploadFileDocument({
        personId,
        name: 'Ausweis',
        publicId: uniq('utf8'),
        file: 'x',
        fileName,
      });
      const [stored] = (await admin.getPerson(personId)).fileDocuments;
      assert.equal(stored?.fileName, fileName, 'the file name as stored');
      assert.equal((await admin.downloadFileDocument(personId, stored.publicId)).fileName, fileName);
    });

    it('getDetectionsByFace/getDetectionsByPerson: newest first, with what was published', async function () {
      const { personId, faceId, image } = await enrollNew();
      const publishOne = async (detectTimeUtc: string) =>
        (
          await admin.publishWithResponse(
            publishOf(image, {
              detectorName: 'Lobby',
              ianaTimeZone: 'Europe/Paris',
              detectTimeUtc,
              allowDoubleDetection: true,
            }),
          )
        ).detectedFaces[0]!;
      const first = await publishOne('2026-01-01T10:00:00Z');
      const second = await publishOne('2026-01-01T10:05:00Z');

      const byFace = await viewer.getDetectionsByFace(faceId);
      expectContract('getDetectionsByFace', byFace);
      assert.deepEqual(
        byFace.map((d) => [d.detectId, d.detectorName]),
        [
          [second.detectId, 'Lobby'],
          [first.detectId, 'Lobby'],
          [byFace[2]?.detectId, 'enrollment'],
        ],
      );
      assert.deepEqual(byFace[1], {
        detectId: first.detectId,
        faceId,
        personId,
        detectorName: 'Lobby',
        ianaTimeZone: 'Europe/Paris',
        detectTimeUtc: '2026-01-01T10:00:00Z',
        confidence: first.confidence,
        faceQuality: first.faceQuality,
        boundingBox: first.boundingBox,
      });
      const byPerson = await viewer.getDetectionsByPerson(personId);
      expectContract('getDetectionsByPerson', byPerson);
      assert.deepEqual(byPerson, byFace);
      assert.deepEqual(await viewer.getDetectionsByFace(UNKNOWN), []);
    });
  });

  describe('tags', function () {
    it('createTag/getTag/listTags/updateTag', async function () {
      const request = { name: uniq('Staff'), description: 'Employees', defaultExpiryDays: 7 };
      const created = await admin.createTag(request);
      expectContract('createTag', created);
      assert.deepEqual(created, { tagId: created.tagId, ...request });
      const got = await viewer.getTag(created.tagId);
      expectContract('getTag', got);
      assert.deepEqual(got, created);

      const renamed = { name: uniq('Team'), description: null, defaultExpiryDays: null };
      const updated = await admin.updateTag(created.tagId, renamed);
      expectContract('updateTag', updated);
      assert.deepEqual(updated, { tagId: created.tagId, ...renamed });
      const all = await viewer.listTags();
      expectContract('listTags', all);
      assert.deepEqual(
        all.filter((t) => t.tagId === created.tagId),
        [updated],
      );
      assert.ok(!all.some((t) => t.name === request.name), 'the old name is gone');
    });

    it('deleteTag: the tag is gone, and gone from every person', async function () {
      const tag = await admin.createTag({ name: uniq('Temp') });
      const { personId } = await enrollNew();
      await admin.upsertPersonTag(personId, { tagId: tag.tagId });
      assert.equal((await admin.getPersonTags(personId)).length, 1);
      expectContract('deleteTag', await admin.deleteTag(tag.tagId));
      await expectApiError({
        op: 'getTag',
        status: 404,
        code: 'NOT_FOUND',
        why: 'deleted',
        call: () => admin.getTag(tag.tagId),
        hits: 1,
      });
      assert.deepEqual(await admin.getPersonTags(personId), []);
      assert.deepEqual(await admin.queryPeople({ tagId: tag.tagId }), []);
      assert.ok(!(await admin.listTags()).some((t) => t.tagId === tag.tagId));
    });
  });

  describe('entity field settings', function () {
    it('setStringFieldSetting/setDatetimeFieldSetting: the stored setting, updated in place', async function () {
      const badge = await admin.setStringFieldSetting('Person', 'badge', {
        name: 'Badge',
        label: 'Badge number',
        required: true,
        maxLength: 12,
      });
      expectContract('setStringFieldSetting', badge);
      assert.deepEqual(badge, {
        entityType: 'Person',
        fieldId: 'badge',
        fieldType: 'string',
        name: 'Badge',
        label: 'Badge number',
        required: true,
        maxLength: 12,
      });
      const relabelled = await admin.setStringFieldSetting('Person', 'badge', { name: 'Badge' });
      assert.deepEqual(relabelled, { ...badge, label: null, required: false, maxLength: null });

      const since = await admin.setDatetimeFieldSetting('Person', 'since', { name: 'Since', dateOnly: true });
      expectContract('setDatetimeFieldSetting', since);
      assert.deepEqual(since, {
        entityType: 'Person',
        fieldId: 'since',
        fieldType: 'datetime',
        name: 'Since',
        label: null,
        required: false,
        dateOnly: true,
      });
    });
  });

  describe('documented errors', function () {
    for (const c of [...handWrittenCases, ...generatedCases]) {
      it(`${c.op} -> ${c.status} ${c.code}: ${c.why}`, async function () {
        await expectApiError(c);
      });
    }
  });

  describe('coverage', function () {
    it('exercised every operation of the contract, and each documented 400/401/403/404', function () {
      const all = emu.routes.routes.map((route) => route.operationId).sort();
      assert.equal(all.length, 39);
      assert.deepEqual(
        all.filter((op) => !happy.has(op)),
        [],
        'operations without a passing happy path',
      );
      const missing = all.flatMap((op) =>
        ERROR_STATUSES.filter((s) => documented(op).has(s) && !errorsSeen.get(op)?.has(s)).map(
          (s) => `${op} ${s}`,
        ),
      );
      assert.deepEqual(missing, [], 'documented error statuses not exercised');
    });
  });
});
