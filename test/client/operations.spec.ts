/**
 * Every operation of openapi/identities.yaml through IdentitiesClient against the emulator, over real
 * HTTP on loopback, in the vendor guide's shapes: each happy path with its content checked and its
 * body held to the contract, each documented 400/401/403/404, and the guide's specifics (no-match
 * nulls, enrollment rollback, includePerson sections, duplicate prevention, fire-and-forget publish,
 * a tag's default expiry, upserts by id, deletes by the id in the path, detection paging). Every
 * client reports drift to one list, which must stay empty: the emulator answers as the contract says.
 * The last tests check that the spec exercised every operation and every documented error status.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import sharp from 'sharp';
import {
  ApiError,
  IdentitiesClient,
  type Address,
  type Alias,
  type ApiErrorCode,
  type ClientOptions,
  type DriftReport,
  type EntityField,
  type Note,
  type OperationId,
  type PeopleQuery,
  type PublishRequest,
  type Tag,
} from '../../client';
import { ContractRoutes } from '../../emulator/contract';
import { startEmulator, type Emulator } from '../../emulator/server';
import { startFakeApi, type FakeApi } from '../property/support';

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
/** What every client of this spec reported as drift: the emulator must answer as the contract says. */
const drift: DriftReport[] = [];
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
  const client = new IdentitiesClient({
    baseUrl: emu.url,
    username,
    password,
    onDrift: (report) => drift.push(report),
    ...extra,
  });
  clients.push(client);
  return client;
}

/** Ada: enrolled, with an alias, a tag, a field, an address, a note, a document and a detection. */
interface Fixture {
  image: Buffer;
  personId: string;
  faceId: string;
  photoReferenceId: string;
  tag: Tag & { tagId: string };
  personTagId: string;
  aliasId: string;
  address: Address;
  noteId: string;
  entityFieldId: string;
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

const LONDON: Address = {
  street: '12 St James Square',
  street2: null,
  city: 'London',
  state: 'London',
  postalCode: 'SW1Y 4LB',
  country: 'UK',
};

interface Enrolled {
  personId: string;
  faceId: string;
  image: Buffer;
  photoReferenceId: string;
}

/** A new person enrolled from a new image (or the given one), with the face it was enrolled as. */
async function enrollNew(image?: Buffer): Promise<Enrolled> {
  const faceImage = image ?? (await newImage());
  const photoReferenceId = uniq('ref');
  const { personId } = await admin.faceEnroll({ faceImage, photoReferenceId });
  const { faceId } = await admin.checkImageReference(photoReferenceId);
  return { personId, faceId: faceId!, image: faceImage, photoReferenceId };
}

/** A tag with its tagId, which the contract leaves optional (a create omits it). */
async function newTag(tag: Partial<Tag> = {}): Promise<Tag & { tagId: string }> {
  const created = await admin.createTag({ tagName: uniq('tag'), ...tag });
  assert.ok(created.tagId, 'the created tag has its tagId');
  return { ...created, tagId: created.tagId };
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

/** For answers validateResponse cannot check (bytes; an id the client made): the caller checked them. */
function cover(op: OperationId): void {
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
  assert.equal((body as { username: string }).username, username);
  return (body as { token: string }).token;
}

// ---- one valid call per operation, on Ada's records: the 401 and 403 cases send these ----

type SampleOp = Exclude<OperationId, 'authenticate' | 'renewToken'>;

const validCall: Record<SampleOp, (c: IdentitiesClient) => Promise<unknown>> = {
  getUserProfile: (c) => c.getUserProfile(),
  publishWithResponse: (c) => c.publishWithResponse(publishOf(fx.image)),
  publish: (c) => c.publish(publishOf(fx.image)),
  recognize: (c) => c.recognize({ croppedAligned: fx.image, detectorName: 'door' }),
  lookup: (c) => c.lookup({ croppedAligned: fx.image }),
  faceDetect: (c) => c.faceDetect({ image: fx.image }),
  faceEnroll: (c) => c.faceEnroll({ faceImage: fx.image, personId: fx.personId }),
  faceCompare: (c) => c.faceCompare({ image1: fx.image, image2: fx.image }),
  checkImageReference: (c) => c.checkImageReference(fx.photoReferenceId),
  queryPeople: (c) => c.queryPeople({ tagId: fx.tag.tagId }),
  queryPeopleByEntityField: (c) => c.queryPeopleByEntityField('LoyaltyTier', 'Gold'),
  getPerson: (c) => c.getPerson(fx.personId),
  getAliases: (c) => c.getAliases(fx.personId),
  upsertAlias: (c) =>
    c.upsertAlias(fx.personId, { personAliasId: fx.aliasId, firstName: 'Ada', lastName: 'Lovelace' }),
  deleteAlias: (c) => c.deleteAlias(fx.personId, fx.aliasId),
  getPersonTags: (c) => c.getPersonTags(fx.personId),
  upsertPersonTag: (c) =>
    c.upsertPersonTag(fx.personId, { personTagId: fx.personTagId, tagId: fx.tag.tagId, expires: null }),
  deletePersonTag: (c) => c.deletePersonTag(fx.personId, fx.personTagId),
  getNotes: (c) => c.getNotes(fx.personId),
  upsertNote: (c) => c.upsertNote(fx.personId, { noteId: fx.noteId, summary: 'fixture', body: 'fixture' }),
  deleteNote: (c) => c.deleteNote(fx.personId, fx.noteId),
  upsertAddress: (c) => c.upsertAddress(fx.personId, fx.address),
  getEntityFields: (c) => c.getEntityFields(fx.personId),
  upsertEntityField: (c) =>
    c.upsertEntityField(fx.personId, {
      entityFieldId: fx.entityFieldId,
      name: 'LoyaltyTier',
      stringValue: 'Gold',
    }),
  deleteEntityField: (c) => c.deleteEntityField(fx.personId, fx.entityFieldId),
  getEnrollmentPhoto: (c) => c.getEnrollmentPhoto(fx.faceId),
  getDetectionPhoto: (c) => c.getDetectionPhoto(fx.faceId, fx.detectId),
  uploadFileDocument: (c) =>
    c.uploadFileDocument({ personId: fx.personId, name: 'fixture', publicId: fx.documentId, file: 'x' }),
  downloadFileDocument: (c) => c.downloadFileDocument(fx.personId, fx.documentId),
  getDetectionsByFace: (c) => c.getDetectionsByFace(fx.faceId),
  getDetectionsByPerson: (c) => c.getDetectionsByPerson(fx.personId),
  listTags: (c) => c.listTags(),
  createTag: (c) => c.createTag({ tagName: uniq('never') }),
  getTag: (c) => c.getTag(fx.tag.tagId),
  updateTag: (c) => c.updateTag(fx.tag.tagId, { tagName: fx.tag.tagName }),
  deleteTag: (c) => c.deleteTag(fx.tag.tagId),
  setStringFieldSetting: (c) => c.setStringFieldSetting('Person', 'badge', { name: 'Badge' }),
  setDatetimeFieldSetting: (c) => c.setDatetimeFieldSetting('Person', 'since', { name: 'Since' }),
};
const sampleOps = Object.keys(validCall) as SampleOp[];

/** The demo user (edge or viewer) that lacks what the operation needs (any one of, or every one of). */
function clientLacking(op: OperationId): IdentitiesClient {
  const route = emu.routes.routes.find((r) => r.operationId === op);
  const anyOf = route?.permissions ?? [];
  const allOf = route?.permissionsAll ?? [];
  for (const [name, client] of [
    ['edge', edge],
    ['viewer', viewer],
  ] as const) {
    const held = emu.users.get(name)!.permissions;
    const lacksAny = anyOf.length > 0 && !anyOf.some((permission) => held.has(permission));
    const lacksAll = allOf.length > 0 && !allOf.every((permission) => held.has(permission));
    if (lacksAny || lacksAll) return client;
  }
  return assert.fail(`neither edge nor viewer lacks the permissions of ${op}`);
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

const notFound = (
  op: OperationId,
  why: string,
  call: () => Promise<unknown>,
  detail = /HTTP 404: .*not found/,
): ErrorCase => ({ op, status: 404, code: 'NOT_FOUND', why, call, detail, hits: 1 });

const UUID_FORMAT = (name: string) => new RegExp(`${name} must match format "uuid"`);
const NOT_A_GUID = (name: string) => new RegExp(`body.${name} must be a GUID`);
const EMPTY = (name: string) => new RegExp(`${name} must NOT have fewer than 1 characters`);

/** The documented 400s and 404s, each with input that passes the client's own checks. */
const handWrittenCases: ErrorCase[] = [
  badRequest('authenticate', 'an empty username', EMPTY('username'), () => newClient('', 'x').login()),
  badRequest('publishWithResponse', 'an empty detectorName', EMPTY('detectorName'), () =>
    admin.publishWithResponse(publishOf(fx.image, { detectorName: '' })),
  ),
  badRequest('publish', 'an empty detectorName', EMPTY('detectorName'), () =>
    admin.publish(publishOf(fx.image, { detectorName: '' })),
  ),
  badRequest('recognize', 'an empty detectorName', EMPTY('detectorName'), () =>
    admin.recognize({ croppedAligned: fx.image, detectorName: '' }),
  ),
  badRequest('lookup', 'an undecodable JPEG', /CroppedAligned is not a decodable JPEG or PNG image/, () =>
    admin.lookup({ croppedAligned: UNDECODABLE_JPEG }),
  ),
  badRequest('queryPeople', 'a tagId that is not a uuid', UUID_FORMAT('tagId'), () =>
    admin.queryPeople({ tagId: NOT_A_UUID }),
  ),
  badRequest('upsertAlias', 'a personAliasId that is not a GUID', NOT_A_GUID('personAliasId'), () =>
    admin.upsertAlias(fx.personId, { personAliasId: 'alias-1', firstName: 'X', lastName: 'Y' }),
  ),
  badRequest('upsertPersonTag', 'a tagId that is not a uuid', UUID_FORMAT('tagId'), () =>
    admin.upsertPersonTag(fx.personId, { tagId: NOT_A_UUID }),
  ),
  badRequest('upsertNote', 'a noteId that is not a GUID', NOT_A_GUID('noteId'), () =>
    admin.upsertNote(fx.personId, { noteId: 'note-1', summary: 'x', body: 'y' }),
  ),
  badRequest('upsertAddress', 'a personAddressId that is not a GUID', NOT_A_GUID('personAddressId'), () =>
    admin.upsertAddress(fx.personId, { ...LONDON, personAddressId: 'home' }),
  ),
  badRequest('upsertEntityField', 'an empty name', EMPTY('name'), () =>
    admin.upsertEntityField(fx.personId, { name: '' }),
  ),
  badRequest('uploadFileDocument', 'an empty name', /name/, () =>
    admin.uploadFileDocument({ personId: fx.personId, name: '', file: 'x' }),
  ),
  badRequest('getDetectionsByFace', 'take 0', /query.take must be >= 1/, () =>
    admin.getDetectionsByFace(fx.faceId, { take: 0 }),
  ),
  badRequest('createTag', 'the name of an existing tag', /exists already/, () =>
    admin.createTag({ tagName: fx.tag.tagName }),
  ),
  badRequest('updateTag', 'an empty tagName', EMPTY('tagName'), () =>
    admin.updateTag(fx.tag.tagId, { tagName: '' }),
  ),
  badRequest('setStringFieldSetting', 'a maxLength of 0', /maxLength must be >= 1/, () =>
    admin.setStringFieldSetting('Person', 'badge', { name: 'Badge', maxLength: 0 }),
  ),
  badRequest('setDatetimeFieldSetting', 'an empty name', EMPTY('name'), () =>
    admin.setDatetimeFieldSetting('Person', 'since', { name: '' }),
  ),
  ...(
    [
      ['getPerson', 'personId', () => admin.getPerson(NOT_A_UUID)],
      ['getAliases', 'personId', () => admin.getAliases(NOT_A_UUID)],
      ['deleteAlias', 'personId', () => admin.deleteAlias(NOT_A_UUID, fx.aliasId)],
      ['getPersonTags', 'personId', () => admin.getPersonTags(NOT_A_UUID)],
      ['deletePersonTag', 'personId', () => admin.deletePersonTag(NOT_A_UUID, fx.personTagId)],
      ['getNotes', 'personId', () => admin.getNotes(NOT_A_UUID)],
      ['deleteNote', 'personId', () => admin.deleteNote(NOT_A_UUID, fx.noteId)],
      ['getEntityFields', 'personId', () => admin.getEntityFields(NOT_A_UUID)],
      ['deleteEntityField', 'personId', () => admin.deleteEntityField(NOT_A_UUID, fx.entityFieldId)],
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
  notFound('upsertAlias', 'an unknown person', () =>
    admin.upsertAlias(UNKNOWN, { firstName: 'X', lastName: 'Y' }),
  ),
  notFound('deleteAlias', 'an alias Ada does not have', () => admin.deleteAlias(fx.personId, UNKNOWN)),
  notFound('getPersonTags', 'an unknown person', () => admin.getPersonTags(UNKNOWN)),
  notFound('upsertPersonTag', 'an unknown tag', () => admin.upsertPersonTag(fx.personId, { tagId: UNKNOWN })),
  notFound(
    'deletePersonTag',
    'a person tag Ada does not have',
    () => admin.deletePersonTag(fx.personId, UNKNOWN),
    /HTTP 404: no applied tag/,
  ),
  notFound('getNotes', 'an unknown person', () => admin.getNotes(UNKNOWN)),
  notFound('upsertNote', 'an unknown person', () => admin.upsertNote(UNKNOWN, { summary: 'x', body: 'y' })),
  notFound('deleteNote', 'a note Ada does not have', () => admin.deleteNote(fx.personId, UNKNOWN)),
  notFound('upsertAddress', 'an unknown person', () => admin.upsertAddress(UNKNOWN, LONDON)),
  notFound('getEntityFields', 'an unknown person', () => admin.getEntityFields(UNKNOWN)),
  notFound('upsertEntityField', 'an unknown person', () => admin.upsertEntityField(UNKNOWN, { name: 'X' })),
  notFound('deleteEntityField', 'a field Ada does not have', () =>
    admin.deleteEntityField(fx.personId, UNKNOWN),
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
  notFound('updateTag', 'an unknown tag', () => admin.updateTag(UNKNOWN, { tagName: uniq('x') })),
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

    const { personId, faceId, image, photoReferenceId } = await enrollNew();
    const tag = await newTag({ tagName: uniq('VIP') });
    const alias = await admin.upsertAlias(personId, { firstName: 'Ada', lastName: 'Lovelace' });
    const personTag = await admin.upsertPersonTag(personId, { tagId: tag.tagId });
    const field = await admin.upsertEntityField(personId, { name: 'LoyaltyTier', stringValue: 'Gold' });
    const address = await admin.upsertAddress(personId, LONDON);
    const note = await admin.upsertNote(personId, { summary: 'fixture', body: 'fixture' });
    const documentId = uniq('doc');
    await admin.uploadFileDocument({ personId, name: 'fixture', publicId: documentId, file: 'fixture' });
    const { detectedFaces } = await admin.publishWithResponse(publishOf(image));
    fx = {
      image,
      personId,
      faceId,
      photoReferenceId,
      tag,
      personTagId: personTag.personTagId!,
      aliasId: alias.personAliasId!,
      address,
      noteId: note.noteId!,
      entityFieldId: field.entityFieldId!,
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
      // The body itself, which the client keeps to itself: {username, token}.
      assert.match(await rawToken('viewer'), /^[\w-]+\.[\w-]+\.[\w-]+$/);
    });

    it('authenticate: the 401 message never holds the password', async function () {
      const err = await expectApiError(
        handWrittenCases.find((c) => c.op === 'authenticate' && c.status === 401)!,
      );
      assert.ok(!err.message.includes(WRONG_PASSWORD), err.message);
    });

    it('renewToken: renew() renews the token, and a client renewing early renews instead of logging in', async function () {
      const client = newClient('viewer', 'viewer', { renewBeforeMs: 3_600_000 });
      const renewals = countOf('renewToken');
      const logins = countOf('authenticate');
      await client.getUserProfile();
      assert.equal(countOf('renewToken'), renewals);
      assert.equal((await client.getUserProfile()).userName, 'viewer');
      assert.equal(countOf('renewToken'), renewals + 1);
      await client.renew();
      assert.equal(countOf('renewToken'), renewals + 2);
      assert.equal(countOf('authenticate'), logins + 1);

      const token = await rawToken('viewer');
      const renewed = await raw('GET', '/api/v1/renewToken', { token });
      assert.equal(renewed.status, 200);
      expectContract('renewToken', renewed.body);
      assert.equal((renewed.body as { username: string }).username, 'viewer');
      const fresh = (renewed.body as { token: string }).token;
      assert.notEqual(fresh, token);
      assert.equal((await raw('GET', '/auth/v1/user/profile', { token: fresh })).status, 200);
    });

    it('renewToken: an invalid token is answered 401', async function () {
      const { status, body } = await raw('GET', '/api/v1/renewToken', { token: 'a.b.c' });
      assert.equal(status, 401);
      assert.equal(emu.routes.validateResponse('renewToken', 401, body), undefined);
      coverError('renewToken', 401);
    });

    it('getUserProfile: name, email, roles and permissions of the caller, without the token', async function () {
      const profile = await admin.getUserProfile();
      assert.ok(!('token' in profile));
      expectContract('getUserProfile', { ...profile, token: 'kept by the client' });
      assertIncludes(
        profile,
        { userName: 'admin', email: 'admin@identities.test', roles: ['Administrator'] },
        'admin',
      );
      const everyPermission = [
        ...new Set(
          emu.routes.routes.flatMap((route) => [...(route.permissions ?? []), ...route.permissionsAll]),
        ),
      ];
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
      assertIncludes(face!, { boundingBox: { x: 0, y: 0, width: 64, height: 64 } }, 'the enrolled face');
      const { personTagId: _id, ...applied } = (await admin.getPersonTags(fx.personId))[0]!;
      const { personAddressId: _address, ...address } = fx.address;
      assert.deepEqual(face!.person, {
        personId: fx.personId,
        friendlyName: 'Ada Lovelace',
        aliases: [{ firstName: 'Ada', lastName: 'Lovelace', middleName: null, title: null }],
        addresses: [address],
        personTags: [{ ...applied, tag: { name: fx.tag.tagName } }],
        entityFields: [
          { name: 'LoyaltyTier', stringValue: 'Gold', dateValue: null, numberValue: null, boolValue: null },
        ],
      });
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
      assert.ok(!('person' in plain.detectedFaces[0]!));
      const defaults = await admin.publishWithResponse({ expanded: fx.image, detectorName: uniq('cam') });
      assert.ok(!('person' in defaults.detectedFaces[0]!), 'includePerson defaults to false');
    });

    it('publishWithResponse: sections the caller may not read are omitted silently', async function () {
      const asEdge = await edge.publishWithResponse(publishOf(fx.image, ALL_SECTIONS));
      expectContract('publishWithResponse', asEdge);
      assert.deepEqual(asEdge.detectedFaces[0]!.person, { personId: fx.personId });
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

    it('publishWithResponse: the same face from the same detector again is one detection, unless allowDoubleDetection', async function () {
      const { personId, image } = await enrollNew();
      const detector = uniq('door');
      const publishIds = async (extra: Partial<PublishRequest>) =>
        (
          await admin.publishWithResponse(publishOf(image, { detectorName: detector, ...extra }))
        ).detectedFaces.map((face) => face.detectId);
      const [first] = await publishIds({});
      assert.deepEqual(await publishIds({ largestFaceOnly: true }), [first]);
      const [double1] = await publishIds({ allowDoubleDetection: true });
      const [double2] = await publishIds({ allowDoubleDetection: true });
      assert.equal(new Set([first, double1, double2]).size, 3, 'allowDoubleDetection gives new detections');
      const recorded = (await admin.getDetectionsByPerson(personId, { take: 100 })).filter(
        (d) => d.detector === detector,
      );
      assert.equal(recorded.length, 3);
    });

    it('publish: answers at once with nothing, and the detection shows up afterwards', async function () {
      const detector = uniq('gate');
      const result = await admin.publish(
        publishOf(fx.image, {
          detectorName: detector,
          detectTimeUtc: '2026-03-01T08:00:00Z',
          ...ALL_SECTIONS,
        }),
      );
      assert.equal(result, undefined);
      expectContract('publish', result);
      const detection = await eventually('the published detection', async () =>
        (await admin.getDetectionsByPerson(fx.personId, { take: 100 })).find((d) => d.detector === detector),
      );
      assertIncludes(
        detection,
        { dateTimeUtc: '2026-03-01T08:00:00Z', timeZone: 'America/Los_Angeles', detector },
        'the detection',
      );
    });

    it('recognize: the enrolled face gives its EdgePerson; another face or no face gives null', async function () {
      const sighting = { detectorName: 'door', ianaTimeZone: 'Europe/London', detectTimeUtc: new Date() };
      const person = await edge.recognize({ croppedAligned: fx.image, ...sighting });
      expectContract('recognize', person);
      assertIncludes(
        person!,
        { personId: fx.personId, firstName: 'Ada', lastName: 'Lovelace', tags: [{ name: fx.tag.tagName }] },
        'EdgePerson',
      );
      const reached = countOf('recognize');
      assert.equal(await edge.recognize({ croppedAligned: await newImage(), ...sighting }), null);
      assert.equal(await edge.recognize({ croppedAligned: await noFaceImage(), ...sighting }), null);
      assert.equal(countOf('recognize'), reached + 2, 'both nulls are the server 404');
      coverError('recognize', 404);
      const byEmbeddings = await edge.recognize({
        croppedAligned: await newImage(),
        detectorName: 'door',
        embeddings: emu.store.face(fx.faceId)!.descriptor,
      });
      assert.equal(byEmbeddings?.personId, fx.personId);
    });

    it('lookup: the enrolled face gives its EdgePerson; another face or no face gives null', async function () {
      const person = await edge.lookup({ croppedAligned: fx.image, recognitionModel: 'arcface' });
      expectContract('lookup', person);
      assertIncludes(person!, { personId: fx.personId, firstName: 'Ada' }, 'EdgePerson');
      const reached = countOf('lookup');
      assert.equal(await edge.lookup({ croppedAligned: await newImage('png') }), null);
      assert.equal(await edge.lookup({ croppedAligned: await noFaceImage() }), null);
      assert.equal(countOf('lookup'), reached + 2, 'both nulls are the server 404');
      coverError('lookup', 404);
    });

    it('lookup: an Embeddings file of an enrolled face (128 float32) matches whatever the image', async function () {
      const descriptor = emu.store.face(fx.faceId)!.descriptor;
      const person = await admin.lookup({
        croppedAligned: await newImage(),
        embeddings: Float32Array.from(descriptor),
        recognitionModel: 'arcface',
      });
      expectContract('lookup', person);
      assertIncludes(person!, { personId: fx.personId }, 'matched by embeddings');
    });
  });

  describe('faces', function () {
    it('faceDetect: a known face with its personId, a stranger with null, no face with nothing', async function () {
      const known = await admin.faceDetect({ image: fx.image });
      expectContract('faceDetect', known);
      assert.equal(known.detections.length, 1);
      assertIncludes(
        known.detections[0]!,
        { personId: fx.personId, boundingBox: { x: 0, y: 0, width: 64, height: 64 } },
        'known face',
      );
      const stranger = await admin.faceDetect({ image: await newImage('png') });
      expectContract('faceDetect', stranger);
      assert.equal(stranger.detections[0]?.personId, null);
      assert.deepEqual((await admin.faceDetect({ image: await noFaceImage() })).detections, []);
    });

    it('faceEnroll: creates a person, or adds a face to an existing one with personId', async function () {
      const created = await admin.faceEnroll({ faceImage: await newImage() });
      expectContract('faceEnroll', created);
      const second = await newImage('png');
      const photoReferenceId = uniq('second');
      const added = await admin.faceEnroll({
        faceImage: second,
        personId: created.personId,
        photoReferenceId,
        forceEnrollment: true,
      });
      expectContract('faceEnroll', added);
      assert.equal(added.personId, created.personId);
      assert.equal((await admin.checkImageReference(photoReferenceId)).exists, true);
      const match = await admin.recognize({ croppedAligned: second, detectorName: 'door' });
      assert.equal(match?.personId, created.personId);
    });

    it("faceEnroll: no face in a new person's image answers 500 and rolls the new person back", async function () {
      const people = async () => (await admin.queryPeople()).length;
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
      assert.equal((await admin.getPerson(fx.personId)).personId, fx.personId);
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

    it('checkImageReference: the face and its enrollment detection; exists false for an unknown id', async function () {
      const check = await admin.checkImageReference(fx.photoReferenceId);
      expectContract('checkImageReference', check);
      assertIncludes(check, { exists: true, faceId: fx.faceId }, 'a known reference');
      assert.ok(check.detectId);
      const unknown = await admin.checkImageReference(uniq('never-used'));
      expectContract('checkImageReference', unknown);
      assert.deepEqual(unknown, { exists: false, faceId: null, detectId: null });
    });
  });

  describe('people', function () {
    it('queryPeople: by tagId, by entity field name, by name and exact value, both filters together', async function () {
      const [p1, p2, p3] = await Promise.all([enrollNew(), enrollNew(), enrollNew()]).then((people) =>
        people.map((p) => p.personId),
      );
      const [t1, t2] = await Promise.all([newTag(), newTag()]);
      for (const [personId, tagId] of [
        [p1, t1.tagId],
        [p2, t1.tagId],
        [p2, t2.tagId],
      ] as const) {
        await admin.upsertPersonTag(personId, { tagId });
      }
      const field = uniq('Badge');
      await admin.upsertEntityField(p1, { name: field, stringValue: 'B-1' });
      await admin.upsertEntityField(p3, { name: field, numberValue: 3 });

      const ids = async (query: PeopleQuery) => {
        const people = await viewer.queryPeople(query);
        expectContract('queryPeople', people);
        return people.map((p) => p.personId).sort();
      };
      assert.deepEqual(await ids({ tagId: t1.tagId }), [p1, p2].sort());
      assert.deepEqual(await ids({ tagId: t2.tagId }), [p2]);
      assert.deepEqual(await ids({ entityFieldName: field }), [p1, p3].sort());
      assert.deepEqual(await ids({ entityFieldName: field, entityFieldStringValue: 'B-1' }), [p1]);
      assert.deepEqual(await ids({ entityFieldName: field, entityFieldStringValue: 'b-1' }), [], 'exact');
      assert.deepEqual(await ids({ tagId: t1.tagId, entityFieldName: field }), [p1]);
      const byPath = await viewer.queryPeopleByEntityField(field, 'B-1');
      expectContract('queryPeopleByEntityField', byPath);
      assert.deepEqual(
        byPath.map((p) => p.personId),
        [p1],
      );
    });

    it("getPerson: Get Identity's six fields", async function () {
      const person = await viewer.getPerson(fx.personId);
      expectContract('getPerson', person);
      assert.deepEqual(Object.keys(person).sort(), [
        'addresses',
        'aliases',
        'entityFields',
        'notes',
        'personId',
        'tags',
      ]);
      assertIncludes(person, { personId: fx.personId, addresses: [fx.address] }, 'Ada');
      assert.deepEqual(
        person.tags?.map((t) => t.tagId),
        [fx.tag.tagId],
      );
    });

    /** Each function validates its own answer against the contract. */
    interface SubRecordSpec<T extends object> {
      title: string;
      upsert: (personId: string, body: T) => Promise<T>;
      list: (personId: string) => Promise<T[] | undefined>;
      remove?: (personId: string, record: T) => Promise<void>;
      idOf: (record: T) => string | undefined;
      create: T;
      /** The update: the created item with its id and some fields changed. */
      update: (record: T) => T;
    }

    /**
     * upsert without an id -> a new item, listed; upsert with its id -> the same item replaced, still
     * one; delete by its id -> gone.
     */
    function subRecordLifecycle<T extends object>(spec: SubRecordSpec<T>): void {
      it(`${spec.title}: add, update by id${spec.remove ? ', delete by id' : ''}`, async function () {
        const { personId } = await enrollNew();
        const stored = await spec.upsert(personId, spec.create);
        assert.match(spec.idOf(stored) ?? '', /^[0-9a-f-]{36}$/, 'a new id');
        assertIncludes(stored, spec.create as Record<string, unknown>, `${spec.title}: added`);
        assert.deepEqual(await spec.list(personId), [stored]);

        const changes = spec.update(stored);
        const changed = await spec.upsert(personId, changes);
        assert.deepEqual(changed, changes, `${spec.title}: updated`);
        assert.deepEqual(await spec.list(personId), [changed]);

        if (spec.remove) {
          await spec.remove(personId, changed);
          assert.deepEqual(await spec.list(personId), []);
        }
      });
    }

    subRecordLifecycle<Alias>({
      title: 'upsertAlias/getAliases/deleteAlias',
      upsert: (personId, body) => validated('upsertAlias', admin.upsertAlias(personId, body)),
      list: (personId) => validated('getAliases', viewer.getAliases(personId)),
      remove: (personId, alias) =>
        validated('deleteAlias', admin.deleteAlias(personId, alias.personAliasId!)),
      idOf: (alias) => alias.personAliasId,
      create: { firstName: 'Grace', lastName: 'Hopper', middleName: null, title: 'RAdm' },
      update: (alias) => ({ ...alias, middleName: 'Brewster' }),
    });

    subRecordLifecycle<Note>({
      title: 'upsertNote/getNotes/deleteNote',
      upsert: (personId, body) => validated('upsertNote', admin.upsertNote(personId, body)),
      list: (personId) => validated('getNotes', viewer.getNotes(personId)),
      remove: (personId, note) => validated('deleteNote', admin.deleteNote(personId, note.noteId!)),
      idOf: (note) => note.noteId,
      create: { summary: 'Called in', body: 'About the badge', author: 'desk', sharedId: null },
      update: (note) => ({ ...note, body: 'Called back' }),
    });

    subRecordLifecycle<EntityField>({
      title: 'upsertEntityField/getEntityFields/deleteEntityField',
      upsert: (personId, body) => validated('upsertEntityField', admin.upsertEntityField(personId, body)),
      list: (personId) => validated('getEntityFields', viewer.getEntityFields(personId)),
      remove: (personId, field) =>
        validated('deleteEntityField', admin.deleteEntityField(personId, field.entityFieldId!)),
      idOf: (field) => field.entityFieldId,
      create: {
        name: 'LoyaltyTier',
        stringValue: 'Gold',
        dateValue: null,
        numberValue: null,
        boolValue: null,
      },
      update: (field) => ({ ...field, stringValue: 'Platinum', boolValue: true }),
    });

    subRecordLifecycle<Address>({
      title: 'upsertAddress (read back with getPerson)',
      upsert: (personId, body) => validated('upsertAddress', admin.upsertAddress(personId, body)),
      list: async (personId) => (await validated('getPerson', viewer.getPerson(personId))).addresses,
      idOf: (address) => address.personAddressId,
      create: LONDON,
      update: (address) => ({ ...address, street2: 'Flat 2' }),
    });

    it('getEntityFields and getPersonTags: the fieldName and tagName filters', async function () {
      const { personId } = await enrollNew();
      const [vip, guest] = await Promise.all([newTag(), newTag()]);
      await admin.upsertPersonTag(personId, { tagId: vip.tagId });
      await admin.upsertPersonTag(personId, { tagId: guest.tagId });
      await admin.upsertEntityField(personId, { name: 'Tier', stringValue: 'Gold' });
      await admin.upsertEntityField(personId, { name: 'Badge', stringValue: 'B-7' });
      const tags = await admin.getPersonTags(personId, { tagName: guest.tagName });
      expectContract('getPersonTags', tags);
      assert.deepEqual(
        tags.map((t) => t.tagId),
        [guest.tagId],
      );
      const fields = await admin.getEntityFields(personId, { fieldName: 'Badge' });
      assert.deepEqual(
        fields.map((f) => f.stringValue),
        ['B-7'],
      );
    });

    it("getPersonTags/upsertPersonTag/deletePersonTag: the tag's default expiry, an explicit one, removed by personTagId", async function () {
      const { personId } = await enrollNew();
      const tag = await newTag({ defaultExpirePeriod: '30.00:00:00' });
      const tags = async () => validated('getPersonTags', viewer.getPersonTags(personId));
      const added = await validated('upsertPersonTag', admin.upsertPersonTag(personId, { tagId: tag.tagId }));
      assertIncludes(added, { tagId: tag.tagId }, 'person tag');
      const inDays = (Date.parse(added.expires!) - Date.now()) / 86_400_000;
      assert.ok(inDays > 29.9 && inDays <= 30, `default expiry in ${inDays} days`);
      assert.deepEqual(await tags(), [added]);

      const later = '2099-01-01T00:00:00Z';
      const moved = await admin.upsertPersonTag(personId, {
        personTagId: added.personTagId,
        tagId: tag.tagId,
        expires: later,
      });
      assert.deepEqual(moved, { ...added, expires: later });
      assert.deepEqual(await tags(), [moved]);

      const never = await newTag({ defaultExpirePeriod: '00:00:00' });
      assert.equal((await admin.upsertPersonTag(personId, { tagId: never.tagId })).expires, null);

      expectContract('deletePersonTag', await admin.deletePersonTag(personId, added.personTagId!));
      assert.deepEqual(
        (await tags()).map((t) => t.tagId),
        [never.tagId],
      );
    });

    it('getEnrollmentPhoto: the enrolled JPEG byte for byte, to any signed-in user; a PNG as a JPEG', async function () {
      const photo = await edge.getEnrollmentPhoto(fx.faceId);
      assert.equal(photo.contentType, 'image/jpeg');
      assert.ok(photo.data.equals(fx.image), 'the enrolled bytes');
      const png = await enrollNew(await newImage('png'));
      const converted = await viewer.getEnrollmentPhoto(png.faceId);
      assert.equal(converted.contentType, 'image/jpeg');
      const meta = await sharp(converted.data).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 64, 64]);
      cover('getEnrollmentPhoto');
    });

    it('getDetectionPhoto: the published JPEG byte for byte; a published PNG as a JPEG', async function () {
      const image = await newImage();
      const [face] = (await admin.publishWithResponse(publishOf(image))).detectedFaces;
      const photo = await edge.getDetectionPhoto(face!.faceId, face!.detectId);
      assert.equal(photo.contentType, 'image/jpeg');
      assert.ok(photo.data.equals(image), 'the published bytes');
      const [pngFace] = (await admin.publishWithResponse(publishOf(await newImage('png')))).detectedFaces;
      const converted = await admin.getDetectionPhoto(pngFace!.faceId, pngFace!.detectId);
      assert.equal((await sharp(converted.data).metadata()).format, 'jpeg');
      cover('getDetectionPhoto');
    });

    it('uploadFileDocument/downloadFileDocument: bytes, content type and file name round-trip; the publicId comes back', async function () {
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
      assert.deepEqual(await admin.uploadFileDocument(upload), { publicId: upload.publicId });
      const download = await viewer.downloadFileDocument(personId, upload.publicId);
      assert.deepEqual(download, { data: pdf, contentType: 'application/pdf', fileName: 'id-card.pdf' });

      // The same publicId replaces; without one the client makes one up and says which.
      await admin.uploadFileDocument({ ...upload, file: 'version 2', contentType: 'text/plain' });
      const { publicId } = await admin.uploadFileDocument({ personId, name: 'Notes', file: 'no id given' });
      assert.match(publicId, /^[0-9a-f-]{36}$/);
      assert.equal((await admin.downloadFileDocument(personId, publicId)).data.toString(), 'no id given');
      assert.deepEqual(await admin.downloadFileDocument(personId, upload.publicId), {
        data: Buffer.from('version 2'),
        contentType: 'text/plain',
        fileName: 'id-card.pdf',
      });
      cover('uploadFileDocument');
      cover('downloadFileDocument');
    });

    it('uploadFileDocument/downloadFileDocument: a non-ASCII file name round-trips', async function () {
      const fileName = 'Ausweis Müller €.pdf';
      const { personId } = await enrollNew();
      const { publicId } = await admin.uploadFileDocument({ personId, name: 'Ausweis', file: 'x', fileName });
      assert.equal((await admin.downloadFileDocument(personId, publicId)).fileName, fileName);
    });

    it('getDetectionsByFace/getDetectionsByPerson: 10 by default, oldest first; skip, take, newest first, a time window', async function () {
      const { personId, faceId, image } = await enrollNew();
      // Long before the enrollment's own detection, which is now.
      const times = Array.from({ length: 12 }, (_, i) => `2000-01-01T10:${String(i).padStart(2, '0')}:00Z`);
      for (const detectTimeUtc of times) {
        await admin.publishWithResponse(
          publishOf(image, {
            detectorName: 'Lobby',
            ianaTimeZone: 'Europe/Paris',
            detectTimeUtc,
            allowDoubleDetection: true,
          }),
        );
      }
      const byFace = await viewer.getDetectionsByFace(faceId);
      expectContract('getDetectionsByFace', byFace);
      assert.equal(byFace.length, 10);
      assert.deepEqual(
        byFace.map((d) => d.dateTimeUtc),
        times.slice(0, 10),
      );
      assertIncludes(byFace[0]!, { detector: 'Lobby', timeZone: 'Europe/Paris' }, 'a detection');
      assert.equal(Buffer.from(byFace[0]!.image!, 'base64').equals(image), true, 'the photo inline');

      const byPerson = await viewer.getDetectionsByPerson(personId, {
        take: 3,
        skip: 1,
        dateAscending: false,
      });
      expectContract('getDetectionsByPerson', byPerson);
      assert.equal(byPerson.length, 3);
      assert.equal(byPerson[0]!.dateTimeUtc, times[11]);
      const window = await viewer.getDetectionsByPerson(personId, {
        epochStartMs: Date.parse(times[2]!),
        epochEndMs: Date.parse(times[4]!),
      });
      assert.deepEqual(
        window.map((d) => d.dateTimeUtc),
        times.slice(2, 5),
      );
      assert.deepEqual(await viewer.getDetectionsByFace(UNKNOWN), []);
    });
  });

  describe('tags', function () {
    it('createTag/getTag/listTags/updateTag', async function () {
      const request = { tagName: uniq('Staff'), description: 'Employees', defaultExpirePeriod: '7.00:00:00' };
      const created = await validated('createTag', admin.createTag(request));
      assert.deepEqual(created, { tagId: created.tagId, disabled: false, ...request });
      const got = await validated('getTag', viewer.getTag(created.tagId!));
      assert.deepEqual(got, created);

      const renamed = { tagName: uniq('Team'), description: null, defaultExpirePeriod: '00:00:00' };
      const updated = await validated('updateTag', admin.updateTag(created.tagId!, renamed));
      assert.deepEqual(updated, { tagId: created.tagId, disabled: false, ...renamed });
      const all = await validated('listTags', viewer.listTags());
      assert.deepEqual(
        all.filter((t) => t.tagId === created.tagId),
        [updated],
      );
      assert.ok(!all.some((t) => t.tagName === request.tagName), 'the old name is gone');
      assert.deepEqual(await viewer.listTags({ tagName: renamed.tagName }), [updated]);
      assert.deepEqual(await viewer.listTags({ tagName: renamed.tagName.toUpperCase() }), [], 'exact');
    });

    it('deleteTag: the tag is gone, and gone from every person', async function () {
      const tag = await newTag();
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
    });
  });

  describe('entity field settings', function () {
    it('setStringFieldSetting/setDatetimeFieldSetting: the stored setting, defaults filled in', async function () {
      const badge = await validated(
        'setStringFieldSetting',
        admin.setStringFieldSetting('Person', 'badge', {
          name: 'Badge',
          label: 'Badge number',
          required: true,
          maxLength: 12,
        }),
      );
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
      const since = await validated(
        'setDatetimeFieldSetting',
        admin.setDatetimeFieldSetting('Person', 'since', { name: 'Since', dateOnly: true }),
      );
      assertIncludes(since, { fieldType: 'datetime', required: false, dateOnly: true }, 'datetime setting');
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

    it('no answer of the emulator differed from the contract (drift)', function () {
      assert.deepEqual(drift, []);
    });
  });
});

/** What the guide does not show: a server answering its writes with an empty 200 or 204. */
describe('IdentitiesClient: writes answered with an empty body', function () {
  let api: FakeApi;
  let client: IdentitiesClient;
  let status = 200;

  before(async function () {
    api = await startFakeApi(() => ({ status }));
    client = api.client();
  });

  after(async function () {
    client.close();
    await api.close();
  });

  for (const answer of [200, 204]) {
    it(`an empty ${answer}: each upsert returns the item as it was sent`, async function () {
      status = answer;
      const alias = { personAliasId: randomUUID(), firstName: 'Ada', lastName: 'Lovelace' };
      assert.deepEqual(await client.upsertAlias('p', alias), alias);
      const personTag = { tagId: randomUUID(), expires: null };
      assert.deepEqual(await client.upsertPersonTag('p', personTag), personTag);
      const note = { summary: 's', body: 'b' };
      assert.deepEqual(await client.upsertNote('p', note), note);
      assert.deepEqual(await client.upsertAddress('p', LONDON), LONDON);
      const field = { name: 'Tier', stringValue: 'Gold' };
      assert.deepEqual(await client.upsertEntityField('p', field), field);
      const tagId = randomUUID();
      assert.deepEqual(await client.updateTag(tagId, { tagName: 'VIP' }), { tagId, tagName: 'VIP' });
      assert.deepEqual(await client.createTag({ tagName: 'Guest' }), { tagName: 'Guest' });
      assert.deepEqual(await client.setStringFieldSetting('Person', 'tier', { name: 'Tier' }), {
        entityType: 'Person',
        fieldId: 'tier',
        fieldType: 'string',
        name: 'Tier',
      });
      assert.deepEqual(await client.setDatetimeFieldSetting('Person', 'since', { name: 'Since' }), {
        entityType: 'Person',
        fieldId: 'since',
        fieldType: 'datetime',
        name: 'Since',
      });
    });
  }
});
