/**
 * The typed eConnect Identities client: a method per operation of openapi/identities.yaml, all over
 * one private request core that handles the token, the timeout, aborts and error mapping.
 */
import { randomUUID } from 'node:crypto';
import { ApiError, redact } from './errors';
import { BodyBuffers, json, jsonWithBase64, multipart, type BuiltBody, type MultipartFile } from './bodies';
import { DriftWatch, type DriftReport } from './drift';
import type { components, operations } from './generated/identities';
import { OPERATIONS } from './generated/operations';
import { sniffImageType, toImageBuffer, type ImageInput } from './images';
import { errorText, httpError, Transport, type RawResponse, type TlsOptions } from './http';
import { resolveProxy, type ProxyOptions } from './proxy';
import { RetryPolicy, type RetryOptions } from './retry';
import { TokenManager } from './token';

export type { DriftProblem, DriftReport } from './drift';

type Schemas = components['schemas'];
export type OperationId = keyof operations;

export type IdentityPersonItem = Schemas['IdentityPersonItem'];
export type Alias = Schemas['Alias'];
export type PersonTag = Schemas['PersonTag'];
export type Note = Schemas['Note'];
export type Address = Schemas['Address'];
export type EntityField = Schemas['EntityField'];
export type Tag = Schemas['Tag'];
export type Detection = Schemas['Detection'];
export type EdgePerson = Schemas['EdgePerson'];
export type FaceEdgePublishResponse = Schemas['FaceEdgePublishResponse'];
export type DetectedFace = Schemas['DetectedFace'];
export type FaceDetectResponse = Schemas['FaceDetectResponse'];
export type FaceCompareResponse = Schemas['FaceCompareResponse'];
export type FaceEnrollResponse = Schemas['FaceEnrollResponse'];
export type CheckImageReferenceResponse = Schemas['CheckImageReferenceResponse'];
export type EntityFieldSetting = Schemas['EntityFieldSetting'];
export type StringFieldSettingRequest = Schemas['StringFieldSettingRequest'];
export type DatetimeFieldSettingRequest = Schemas['DatetimeFieldSettingRequest'];
/** The profile without its token: the client keeps the token to itself. */
export type UserProfile = Omit<Schemas['UserProfile'], 'token'>;
export type PeopleQuery = NonNullable<operations['queryPeople']['parameters']['query']>;
export type DetectionsQuery = NonNullable<operations['getDetectionsByPerson']['parameters']['query']>;

/** Where and when a face was seen: the three fields every face edge operation requires. */
export interface Sighting {
  detectorName: string;
  /** Defaults to this host's IANA zone. */
  ianaTimeZone?: string;
  /** Defaults to now. */
  detectTimeUtc?: string | Date;
}

/** publishWithResponse's switches (all false by default); publish (fire-and-forget) has none. */
export type PublishOptions = Omit<
  Schemas['FaceEdgeRecognizeWithOptions'],
  keyof Schemas['FaceEdgePublishRequest']
>;

export interface PublishRequest extends Sighting, PublishOptions {
  expanded: ImageInput;
  croppedAligned?: ImageInput;
  embeddings?: number[];
  recognitionModel?: string;
}

export interface RecognizeRequest extends Sighting {
  croppedAligned: ImageInput;
  embeddings?: number[];
  recognitionModel?: string;
}

export interface LookupRequest {
  croppedAligned: ImageInput;
  /** Sent as the Embeddings file: a Buffer as it is, numbers as little-endian float32. */
  embeddings?: Buffer | Float32Array | number[];
  recognitionModel?: string;
}

export interface EnrollRequest {
  faceImage: ImageInput;
  photoReferenceId?: string;
  /** Add the face to this person instead of creating one. */
  personId?: string;
  forceEnrollment?: boolean;
}

export interface DocumentUpload {
  personId: string;
  name: string;
  description?: string;
  publicId?: string;
  /** The file's bytes; a string is stored as UTF-8 text. */
  file: Buffer | Uint8Array | string | { type: 'Buffer'; data: number[] };
  fileName?: string;
  contentType?: string;
}

export interface BinaryResult {
  data: Buffer;
  contentType: string;
  fileName?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's timeout for each attempt of this call. */
  timeoutMs?: number;
  /** Epoch milliseconds: no retry is waited for past this instant (e.g. the message's arrival + its max age). */
  deadline?: number;
}

export interface ClientOptions {
  /** Cloud `https://<customer>.econnectcloud.com/identities` or on-prem `https://<host>:5009`. */
  baseUrl: string;
  username: string;
  password: string;
  /** Per attempt, including its share of a login. Default 30 s. */
  timeoutMs?: number;
  /** When and how often a failed request is tried again (see client/retry.ts). */
  retry?: RetryOptions;
  /** Called on every HTTP 429, with its Retry-After: the caller may hold back all its requests. */
  onRateLimited?: (retryAfterMs: number | undefined) => void;
  tls?: TlsOptions;
  /** An HTTP proxy, e.g. from the core `http proxy` node or `https_proxy` / `no_proxy`. */
  proxy?: ProxyOptions;
  maxSockets?: number;
  /** Images larger than this are refused before upload. Default 15 MiB. */
  maxImageBytes?: number;
  /** Renew the token this long before it expires; default a fifth of its lifetime, at most 60 s. */
  renewBeforeMs?: number;
  userAgent?: string;
  /** Called on login, renewal and re-login; texts never hold a secret. */
  log?: (level: 'debug' | 'warn', message: string) => void;
  /**
   * Called when a server's 200 answer differs from the contract (openapi/identities.yaml): a field
   * the contract lacks (`unknown`), a required field that is absent (`missing`), or a value of
   * another JSON type (`type`). Once per client for each operation, field path and problem; the
   * answer is returned as the server sent it (unknown fields are kept). Reports name fields and
   * JSON types, never values. Without it nothing is checked. See client/drift.ts for the cost.
   */
  onDrift?: (report: DriftReport) => void;
}

type JsonResponse<Op extends OperationId> = operations[Op]['responses'] extends {
  200: { content: { 'application/json': infer R } };
}
  ? R
  : never;

interface RequestSpec {
  path?: Record<string, string>;
  query?: Record<string, string | number | boolean | null | undefined>;
  /** Built again for each attempt, so a consumed or mutated body is never resent. */
  body?: () => BuiltBody;
  /** Overrides the contract's x-idempotent, for an operation whose options decide it. */
  idempotent?: boolean;
  /** Idempotent only this long after the first attempt started (a publish's duplicate window). */
  idempotentForMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * The one rule for sending a publish again after a failure that may have reached the server (a
 * timeout, a reset after the request left, a 5xx):
 * - publish (fire-and-forget): never. The guide documents no duplicate prevention for it, and its
 *   body has no allowDoubleDetection switch; a second copy could be recorded as a second detection.
 *   Only a failure that provably left nothing on the server (ApiError.unsent) is sent again.
 * - publishWithResponse with allowDoubleDetection false (the default): within this window of the
 *   first attempt. The guide advises leaving allowDoubleDetection false in production so that the
 *   server does not process the same face again: it drops a repeat. It gives no window. 5 s is our
 *   guess (inferred), kept short: half the emulator's 10 s window, and well under the pace at which
 *   a camera publishes the same person again. What the server answers to a dropped repeat is not
 *   documented either: the emulator gives the first answer again, a real server may leave the face
 *   out, and then the retried frame shows no face. With allowDoubleDetection true: never, as for
 *   publish.
 */
const PUBLISH_WITH_RESPONSE_RETRY_WINDOW_MS = 5_000;
/** publishWithResponse's switches, which the fire-and-forget publish does not have. */
const PUBLISH_SWITCHES = [
  'largestFaceOnly',
  'allowDoubleDetection',
  'includePerson',
  'includeNames',
  'includeAddresses',
  'includeTags',
  'includeFields',
] as const satisfies readonly (keyof PublishOptions)[];
export const DEFAULT_MAX_IMAGE_BYTES = 15 * 1024 * 1024;

export function normalizeBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    // Not quoted: what failed to parse may hold a password, or a whole pasted page.
    throw new ApiError({
      operation: 'configure',
      code: 'INVALID_INPUT',
      message: 'server URL is not a URL (check for spaces, and that it starts with https://)',
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ApiError({
      operation: 'configure',
      code: 'INVALID_INPUT',
      message: `server URL must start with https:// (got ${url.protocol})`,
    });
  }
  if (url.username || url.password) {
    throw new ApiError({
      operation: 'configure',
      code: 'INVALID_INPUT',
      message: 'server URL must not contain credentials',
    });
  }
  if (url.search || url.hash) {
    throw new ApiError({
      operation: 'configure',
      code: 'INVALID_INPUT',
      message: 'server URL must not contain a query or fragment',
    });
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * Resolved once per process: building an Intl.DateTimeFormat costs 0.1-0.5 ms, which was a sixth of
 * a 200 KB publish's client CPU when it ran per request; a host does not change zone while it runs.
 */
let hostZone: string | undefined;
function hostTimeZone(): string {
  hostZone ??= Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  return hostZone;
}

function isoSeconds(value: string | Date | undefined): string {
  const date = value === undefined ? new Date() : value;
  return typeof date === 'string' ? date : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The three fields every face edge operation requires, with their defaults filled in. */
function sighting({ detectorName, ianaTimeZone, detectTimeUtc }: Sighting) {
  return {
    detectorName,
    ianaTimeZone: ianaTimeZone || hostTimeZone(),
    detectTimeUtc: isoSeconds(detectTimeUtc),
  };
}

/** A JSON answer, or undefined for an empty body (200 or 204 with nothing in it). */
function optionalJson(data: Buffer): string | undefined {
  const text = data.toString('utf8');
  return text.trim() === '' ? undefined : text;
}

function floatBlob(embeddings: Buffer | Float32Array | number[]): Buffer {
  if (Buffer.isBuffer(embeddings)) return embeddings;
  const floats = embeddings instanceof Float32Array ? embeddings : Float32Array.from(embeddings);
  const out = Buffer.allocUnsafe(floats.length * 4);
  floats.forEach((value, i) => out.writeFloatLE(value, i * 4));
  return out;
}

function fileName(contentDisposition: string | undefined): string | undefined {
  if (!contentDisposition) return undefined;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(contentDisposition);
  if (star?.[1]) return decodeURIComponent(star[1]);
  return /filename="?([^";]+)"?/i.exec(contentDisposition)?.[1];
}

/** A login's answer: JSON, or its text when it is not JSON (a bare token). */
function loginAnswer(data: Buffer): unknown {
  const text = data.toString('utf8').trim();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Whatever shape the server gives the token in: `{token}`, `{accessToken}`, `{access_token}` or a bare string. */
function tokenFrom(answer: unknown): string | undefined {
  let body = answer;
  if (typeof body === 'object' && body !== null) {
    const record = body as Record<string, unknown>;
    body = record.token ?? record.accessToken ?? record.access_token ?? record.jwt;
  }
  return typeof body === 'string' && /^[\w-]+\.[\w-]+\.[\w-]*$/.test(body) ? body : undefined;
}

export class IdentitiesClient {
  readonly baseUrl: string;
  private readonly transport: Transport;
  private readonly tokens: TokenManager;
  private readonly retries: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly maxImageBytes: number;
  /** What is in flight, with its operation, to name it in the CLOSED error. */
  private readonly inflight = new Map<AbortController, OperationId>();
  private readonly proxyPassword: string | undefined;
  /** Memory for image bodies, reused request after request (see BodyBuffers). */
  private readonly bodyBuffers = new BodyBuffers();
  private readonly drift: DriftWatch | undefined;
  private closed = false;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = normalizeBaseUrl(options.baseUrl);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const proxy = options.proxy && resolveProxy(options.proxy);
    this.proxyPassword = proxy?.password;
    this.maxImageBytes = options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
    this.transport = new Transport({
      proxy,
      tls: options.tls,
      maxSockets: options.maxSockets,
      userAgent: options.userAgent,
    });
    this.retries = new RetryPolicy(options.retry);
    this.drift = options.onDrift && new DriftWatch(this.reportDrift(options.onDrift));
    this.tokens = new TokenManager(
      { login: () => this.authenticate(), renew: (token) => this.renewToken(token) },
      { renewBeforeMs: options.renewBeforeMs },
    );
  }

  /** Logs in now (a fresh token), e.g. to test a configuration. */
  async login(): Promise<void> {
    this.tokens.clear();
    await this.tokens.get();
  }

  /** Renews the token now with renewToken (logging in first if needed), e.g. to test a server. */
  async renew(): Promise<void> {
    await this.tokens.renewNow();
  }

  /** Aborts every request in flight with a CLOSED error and frees the sockets. */
  close(): void {
    this.closed = true;
    for (const [controller, operation] of this.inflight) {
      controller.abort(new ApiError({ operation, code: 'CLOSED', message: 'client closed' }));
    }
    this.inflight.clear();
    this.tokens.clear();
    this.transport.close();
  }

  // ---- Authentication & users ----

  async getUserProfile(options?: CallOptions): Promise<UserProfile> {
    const { token: _token, ...profile } = await this.json('getUserProfile', {}, options);
    return profile;
  }

  // ---- Face edge ----

  async publishWithResponse(
    request: PublishRequest,
    options?: CallOptions,
  ): Promise<FaceEdgePublishResponse> {
    const switches = Object.fromEntries(PUBLISH_SWITCHES.map((name) => [name, request[name]]));
    return this.json(
      'publishWithResponse',
      {
        ...this.publishSpec('publishWithResponse', request, switches),
        idempotent: request.allowDoubleDetection !== true,
        idempotentForMs: PUBLISH_WITH_RESPONSE_RETRY_WINDOW_MS,
      },
      options,
    );
  }

  /** Fire-and-forget: publishWithResponse's switches are not part of its body and are not sent. */
  async publish(request: PublishRequest, options?: CallOptions): Promise<void> {
    await this.call('publish', this.publishSpec('publish', request, {}), options);
  }

  /**
   * The matched person, or null when the image holds no face or nobody matched (a 404, as lookup
   * documents; recognize's own status codes are not visible in the guide).
   */
  async recognize(request: RecognizeRequest, options?: CallOptions): Promise<EdgePerson | null> {
    const croppedAligned = this.image('recognize', 'croppedAligned', request.croppedAligned);
    const { embeddings, recognitionModel } = request;
    const fields = { ...sighting(request), embeddings, recognitionModel };
    return this.jsonOrNull(
      'recognize',
      { body: () => jsonWithBase64(fields, { croppedAligned }, this.bodyBuffers) },
      options,
    );
  }

  /** The matched person, or null when the image holds no face or nobody matched (the API's 404). */
  async lookup(request: LookupRequest, options?: CallOptions): Promise<EdgePerson | null> {
    const face = this.image('lookup', 'croppedAligned', request.croppedAligned);
    const png = sniffImageType(face) === 'image/png';
    const cropped: MultipartFile = {
      data: face,
      fileName: png ? 'cropped-aligned.png' : 'cropped-aligned.jpg',
      contentType: png ? 'image/png' : 'image/jpeg',
    };
    const embeddings = request.embeddings && {
      data: floatBlob(request.embeddings),
      fileName: 'embeddings.bin',
      contentType: 'application/octet-stream',
    };
    return this.jsonOrNull(
      'lookup',
      {
        body: () =>
          multipart({
            CroppedAligned: cropped,
            Embeddings: embeddings,
            RecognitionModel: request.recognitionModel,
          }),
      },
      options,
    );
  }

  // ---- Face recognition ----

  async faceDetect(request: { image: ImageInput }, options?: CallOptions): Promise<FaceDetectResponse> {
    const image = this.image('faceDetect', 'image', request.image);
    return this.json('faceDetect', { body: () => jsonWithBase64({}, { image }, this.bodyBuffers) }, options);
  }

  async faceEnroll(request: EnrollRequest, options?: CallOptions): Promise<FaceEnrollResponse> {
    const faceImage = this.image('faceEnroll', 'faceImage', request.faceImage);
    const { photoReferenceId, personId, forceEnrollment } = request;
    return this.json(
      'faceEnroll',
      {
        query: { personId, forceEnrollment },
        body: () => jsonWithBase64({ photoReferenceId }, { faceImage }, this.bodyBuffers),
      },
      options,
    );
  }

  async faceCompare(
    request: { image1: ImageInput; image2: ImageInput },
    options?: CallOptions,
  ): Promise<FaceCompareResponse> {
    const image1 = this.image('faceCompare', 'image1', request.image1);
    const image2 = this.image('faceCompare', 'image2', request.image2);
    return this.json(
      'faceCompare',
      { body: () => jsonWithBase64({}, { image1, image2 }, this.bodyBuffers) },
      options,
    );
  }

  async checkImageReference(
    referenceId: string,
    options?: CallOptions,
  ): Promise<CheckImageReferenceResponse> {
    return this.json('checkImageReference', { path: { referenceId } }, options);
  }

  // ---- People ----

  /** By tagId, or by entityFieldName and (optionally) entityFieldStringValue. */
  async queryPeople(query: PeopleQuery = {}, options?: CallOptions): Promise<IdentityPersonItem[]> {
    return this.json('queryPeople', { query }, options);
  }

  /** The path-style form of the entity-field search. */
  async queryPeopleByEntityField(
    fieldName: string,
    fieldValue: string,
    options?: CallOptions,
  ): Promise<IdentityPersonItem[]> {
    return this.json('queryPeopleByEntityField', { path: { fieldName, fieldValue } }, options);
  }

  async getPerson(personId: string, options?: CallOptions): Promise<IdentityPersonItem> {
    return this.json('getPerson', { path: { personId } }, options);
  }

  async getAliases(personId: string, options?: CallOptions): Promise<Alias[]> {
    return this.json('getAliases', { path: { personId } }, options);
  }

  /** Updates the alias named by personAliasId, or creates one without it. */
  async upsertAlias(personId: string, alias: Alias, options?: CallOptions): Promise<Alias> {
    return this.upsert('upsertAlias', personId, alias, options);
  }

  async deleteAlias(personId: string, personAliasId: string, options?: CallOptions): Promise<void> {
    await this.call('deleteAlias', { path: { personId, aliasId: personAliasId } }, options);
  }

  async getPersonTags(
    personId: string,
    query: { tagName?: string } = {},
    options?: CallOptions,
  ): Promise<PersonTag[]> {
    return this.json('getPersonTags', { path: { personId }, query }, options);
  }

  /** Applies a tag ({tagId, expires?}); without expires the tag's default period applies. */
  async upsertPersonTag(personId: string, tag: PersonTag, options?: CallOptions): Promise<PersonTag> {
    return this.upsert('upsertPersonTag', personId, tag, options);
  }

  async deletePersonTag(personId: string, personTagId: string, options?: CallOptions): Promise<void> {
    await this.call('deletePersonTag', { path: { personId, personTagId } }, options);
  }

  async getNotes(personId: string, options?: CallOptions): Promise<Note[]> {
    return this.json('getNotes', { path: { personId } }, options);
  }

  async upsertNote(personId: string, note: Note, options?: CallOptions): Promise<Note> {
    return this.upsert('upsertNote', personId, note, options);
  }

  async deleteNote(personId: string, noteId: string, options?: CallOptions): Promise<void> {
    await this.call('deleteNote', { path: { personId, noteId } }, options);
  }

  async upsertAddress(personId: string, address: Address, options?: CallOptions): Promise<Address> {
    return this.upsert('upsertAddress', personId, address, options);
  }

  async getEntityFields(
    personId: string,
    query: { fieldName?: string } = {},
    options?: CallOptions,
  ): Promise<EntityField[]> {
    return this.json('getEntityFields', { path: { personId }, query }, options);
  }

  async upsertEntityField(personId: string, field: EntityField, options?: CallOptions): Promise<EntityField> {
    return this.upsert('upsertEntityField', personId, field, options);
  }

  async deleteEntityField(personId: string, entityFieldId: string, options?: CallOptions): Promise<void> {
    await this.call('deleteEntityField', { path: { personId, entityId: entityFieldId } }, options);
  }

  async getEnrollmentPhoto(faceId: string, options?: CallOptions): Promise<BinaryResult> {
    return this.binary('getEnrollmentPhoto', { path: { faceId } }, options);
  }

  async getDetectionPhoto(faceId: string, detectionId: string, options?: CallOptions): Promise<BinaryResult> {
    return this.binary('getDetectionPhoto', { path: { faceId, detectionId } }, options);
  }

  /**
   * The upload answers with an empty body, so an id the server generated could never be learnt:
   * without upload.publicId the client makes one, and returns the id to download the file by.
   */
  async uploadFileDocument(upload: DocumentUpload, options?: CallOptions): Promise<{ publicId: string }> {
    const data = this.documentBytes(upload.file);
    const file: MultipartFile = {
      data,
      fileName: upload.fileName || 'document',
      contentType: upload.contentType || sniffImageType(data) || 'application/octet-stream',
    };
    const { personId, name, description } = upload;
    const publicId = upload.publicId || randomUUID();
    await this.call(
      'uploadFileDocument',
      { body: () => multipart({ personId, name, description, publicId, file }) },
      options,
    );
    return { publicId };
  }

  async downloadFileDocument(
    personId: string,
    documentId: string,
    options?: CallOptions,
  ): Promise<BinaryResult> {
    return this.binary('downloadFileDocument', { path: { personId, documentId } }, options);
  }

  /** Server defaults: skip 0, take 10, oldest first (dateAscending true). */
  async getDetectionsByFace(
    faceId: string,
    query: DetectionsQuery = {},
    options?: CallOptions,
  ): Promise<Detection[]> {
    return this.json('getDetectionsByFace', { path: { faceId }, query }, options);
  }

  /** Server defaults: skip 0, take 10, oldest first (dateAscending true). */
  async getDetectionsByPerson(
    personId: string,
    query: DetectionsQuery = {},
    options?: CallOptions,
  ): Promise<Detection[]> {
    return this.json('getDetectionsByPerson', { path: { personId }, query }, options);
  }

  // ---- Tags ----

  /** Every tag, or with tagName the tags of exactly that name. */
  async listTags(query: { tagName?: string } = {}, options?: CallOptions): Promise<Tag[]> {
    return this.json('listTags', { query }, options);
  }

  /** The server's tag, or (after an empty answer) the tag as sent: then without its tagId. */
  async createTag(tag: Tag, options?: CallOptions): Promise<Tag> {
    const response = await this.call('createTag', { body: () => json(tag) }, options);
    return this.echoed('createTag', response, tag);
  }

  async getTag(tagId: string, options?: CallOptions): Promise<Tag> {
    return this.json('getTag', { path: { tagId } }, options);
  }

  /** The server's tag, or the tag as sent when the server answers with an empty body. */
  async updateTag(tagId: string, tag: Tag, options?: CallOptions): Promise<Tag> {
    const response = await this.call('updateTag', { path: { tagId }, body: () => json(tag) }, options);
    return this.echoed('updateTag', response, { ...tag, tagId });
  }

  async deleteTag(tagId: string, options?: CallOptions): Promise<void> {
    await this.call('deleteTag', { path: { tagId } }, options);
  }

  // ---- Entity field settings ----

  async setStringFieldSetting(
    entityType: string,
    fieldId: string,
    setting: StringFieldSettingRequest,
    options?: CallOptions,
  ): Promise<EntityFieldSetting> {
    return this.fieldSetting(
      'setStringFieldSetting',
      { entityType, fieldId, fieldType: 'string' },
      setting,
      options,
    );
  }

  async setDatetimeFieldSetting(
    entityType: string,
    fieldId: string,
    setting: DatetimeFieldSettingRequest,
    options?: CallOptions,
  ): Promise<EntityFieldSetting> {
    return this.fieldSetting(
      'setDatetimeFieldSetting',
      { entityType, fieldId, fieldType: 'datetime' },
      setting,
      options,
    );
  }

  /**
   * Both settings PUTs are known from one row of the guide each: their answer is a guess, so an
   * empty one is taken as success and the setting is returned as sent.
   */
  private async fieldSetting(
    operation: 'setStringFieldSetting' | 'setDatetimeFieldSetting',
    field: Pick<EntityFieldSetting, 'entityType' | 'fieldId' | 'fieldType'>,
    setting: StringFieldSettingRequest | DatetimeFieldSettingRequest,
    options?: CallOptions,
  ): Promise<EntityFieldSetting> {
    const { entityType, fieldId } = field;
    const response = await this.call(
      operation,
      { path: { entityType, fieldId }, body: () => json(setting) },
      options,
    );
    return this.echoed(operation, response, { ...setting, ...field });
  }

  // ---- The request core ----

  private image(operation: OperationId, field: string, value: unknown): Buffer {
    return toImageBuffer(operation, field, value, { maxBytes: this.maxImageBytes });
  }

  private documentBytes(file: DocumentUpload['file']): Buffer {
    if (typeof file === 'string') return Buffer.from(file, 'utf8');
    if (Buffer.isBuffer(file)) return file;
    if (file instanceof Uint8Array) return Buffer.from(file.buffer, file.byteOffset, file.byteLength);
    if (file && file.type === 'Buffer' && Array.isArray(file.data)) return Buffer.from(file.data);
    throw new ApiError({
      operation: 'uploadFileDocument',
      code: 'INVALID_INPUT',
      message: 'file must be a Buffer or a string',
    });
  }

  /** The body both publishes share, with `switches` (publishWithResponse's options) beside it. */
  private publishSpec(
    operation: 'publish' | 'publishWithResponse',
    request: PublishRequest,
    switches: PublishOptions,
  ): RequestSpec {
    const { expanded, croppedAligned, embeddings, recognitionModel } = request;
    const images = {
      expanded: this.image(operation, 'expanded', expanded),
      croppedAligned:
        croppedAligned === undefined ? undefined : this.image(operation, 'croppedAligned', croppedAligned),
    };
    const fields = { ...sighting(request), ...switches, embeddings, recognitionModel };
    return { body: () => jsonWithBase64(fields, images, this.bodyBuffers) };
  }

  /**
   * A PUT upsert. The guide does not show what it answers: the stored item as JSON, or (the client
   * accepts both) an empty 200 or 204, after which the item is returned as it was sent.
   */
  private async upsert<T extends object>(
    operation: 'upsertAlias' | 'upsertPersonTag' | 'upsertNote' | 'upsertAddress' | 'upsertEntityField',
    personId: string,
    item: T,
    options?: CallOptions,
  ): Promise<T> {
    const response = await this.call(operation, { path: { personId }, body: () => json(item) }, options);
    return this.echoed(operation, response, item);
  }

  private echoed<T>(operation: OperationId, response: RawResponse, sent: T): T {
    return optionalJson(response.data) === undefined ? sent : this.parseJson<T>(operation, response);
  }

  private async json<Op extends OperationId>(
    operation: Op,
    spec: RequestSpec,
    options?: CallOptions,
  ): Promise<JsonResponse<Op>> {
    return this.parseJson(operation, await this.call(operation, spec, options));
  }

  private async jsonOrNull<Op extends OperationId>(
    operation: Op,
    spec: RequestSpec,
    options?: CallOptions,
  ): Promise<JsonResponse<Op> | null> {
    try {
      return await this.json(operation, spec, options);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }

  private async binary(
    operation: OperationId,
    spec: RequestSpec,
    options?: CallOptions,
  ): Promise<BinaryResult> {
    const response = await this.call(operation, spec, options);
    const contentType = response.headers['content-type']?.split(';')[0]?.trim() || 'application/octet-stream';
    const name = fileName(response.headers['content-disposition']);
    return name === undefined
      ? { data: response.data, contentType }
      : { data: response.data, contentType, fileName: name };
  }

  /** The caller's listener, whose failure must not turn a good answer into an error. */
  private reportDrift(onDrift: (report: DriftReport) => void): (report: DriftReport) => void {
    return (report) => {
      try {
        onDrift(report);
      } catch (err) {
        this.options.log?.('warn', `onDrift failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
  }

  private parseJson<T>(operation: OperationId, response: RawResponse): T {
    let answer: unknown;
    try {
      answer = JSON.parse(response.data.toString('utf8'));
    } catch {
      throw new ApiError({
        operation,
        code: 'INVALID_RESPONSE',
        status: response.status,
        message: `expected JSON, got ${response.data.length} bytes of ${response.headers['content-type'] ?? 'unknown type'}`,
      });
    }
    this.drift?.check(operation, answer);
    return answer as T;
  }

  private url(operation: OperationId, spec: RequestSpec): string {
    // Percent-encoded, so an id like "a/b?c" stays one path segment.
    const path = OPERATIONS[operation].path.replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(checkedId(operation, name, spec.path?.[name])),
    );
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(spec.query ?? {})) {
      if (value === undefined || value === null || value === '') continue;
      // URLSearchParams would send a lone surrogate as U+FFFD: a filter for another value.
      if (typeof value === 'string' && LONE_SURROGATE.test(value)) throw illFormed(operation, name);
      query.append(name, String(value));
    }
    const search = query.toString();
    return `${this.baseUrl}${path}${search ? `?${search}` : ''}`;
  }

  /**
   * Sends one operation, trying again after a transient failure when client/retry.ts allows it.
   * No attempt runs past the deadline: each gets the timeout or what is left, whichever is shorter.
   */
  private async call(
    operation: OperationId,
    spec: RequestSpec,
    options: CallOptions = {},
  ): Promise<RawResponse> {
    const url = this.url(operation, spec);
    const info: { idempotent: boolean; rejectedImageStatus?: number } = OPERATIONS[operation];
    const { rejectedImageStatus } = info;
    const idempotent = spec.idempotent ?? info.idempotent;
    const deadline = options.deadline ?? Infinity;
    const retryUntil = Math.min(deadline, Date.now() + (spec.idempotentForMs ?? Infinity));
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const attemptMs = Math.max(1, Math.min(timeoutMs, deadline - Date.now()));
        const response = await this.withSignal(operation, { ...options, timeoutMs: attemptMs }, (signal) =>
          this.attempt(operation, url, spec, signal),
        );
        this.retries.succeeded();
        return response;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (err.code === 'RATE_LIMITED') this.options.onRateLimited?.(err.retryAfterMs);
        // The guide's "image rejected": the same image is rejected again.
        if (err.status !== undefined && err.status === rejectedImageStatus) throw err;
        const delay = this.retries.delayBefore(err, attempt, idempotent, retryUntil, Date.now());
        if (delay === undefined) throw err;
        this.options.log?.('debug', `${err.message}; trying again in ${Math.round(delay)} ms`);
        await this.withSignal(operation, { ...options, timeoutMs: Infinity }, (signal) =>
          sleep(delay, signal),
        );
      }
    }
  }

  /** One attempt: token, request, one re-login and replay on a 401, error mapping. */
  private async attempt(
    operation: OperationId,
    url: string,
    spec: RequestSpec,
    signal: AbortSignal,
  ): Promise<RawResponse> {
    const info = OPERATIONS[operation];
    const send = (token: string | undefined) =>
      this.transport.send({ operation, method: info.method, url, token, body: spec.body?.(), signal });
    if (info.permissions === null) return this.checked(operation, await send(undefined));

    const token = await abortable(this.tokens.get(), signal);
    let response = await send(token);
    if (response.status === 401) {
      this.options.log?.('debug', `${operation}: token rejected (HTTP 401), logging in again`);
      this.tokens.invalidate(token);
      response = await send(await abortable(this.tokens.get(), signal));
      if (response.status === 401) {
        throw new ApiError({
          operation,
          code: 'AUTH_FAILED',
          status: 401,
          message: `the server rejected a freshly obtained token (HTTP 401${this.detail(response)})`,
        });
      }
    }
    return this.checked(operation, response);
  }

  private detail(response: RawResponse): string {
    const text = errorText(response.data);
    return text ? `: ${this.scrub(text)}` : '';
  }

  private checked(operation: OperationId, response: RawResponse): RawResponse {
    if (response.status >= 200 && response.status < 300) return response;
    throw httpError(operation, response, (text) => this.scrub(text));
  }

  private scrub(text: string): string {
    return redact(text, [this.options.password, this.tokens.current, this.proxyPassword]);
  }

  /** Runs `work` under a signal that fires on the caller's abort, the timeout, or close(). */
  private async withSignal<T>(
    operation: OperationId,
    options: CallOptions,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (this.closed) throw new ApiError({ operation, code: 'CLOSED', message: 'client closed' });
    const controller = new AbortController();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(
          () =>
            controller.abort(
              new ApiError({ operation, code: 'TIMEOUT', message: `no answer within ${timeoutMs} ms` }),
            ),
          timeoutMs,
        )
      : undefined;
    const onAbort = () =>
      controller.abort(new ApiError({ operation, code: 'ABORTED', message: 'request aborted' }));
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.inflight.set(controller, operation);
    try {
      return await work(controller.signal);
    } catch (err) {
      if (err instanceof ApiError && err.operation !== operation) {
        // A failure of the login under this request is reported as this request's, keeping its
        // code; this request was not sent (a login comes first; a 401 means it was refused unread).
        throw new ApiError({ ...err, operation, message: err.message, unsent: true });
      }
      throw err;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      this.inflight.delete(controller);
    }
  }

  private async authenticate(): Promise<string> {
    this.options.log?.('debug', 'logging in');
    const { username, password } = this.options;
    const response = await this.withSignal('authenticate', {}, (signal) =>
      this.transport.send({
        operation: 'authenticate',
        method: OPERATIONS.authenticate.method,
        url: this.url('authenticate', {}),
        body: json({ username, password }),
        signal,
      }),
    );
    if (response.status === 401 || response.status === 403) {
      throw new ApiError({
        operation: 'authenticate',
        code: 'AUTH_FAILED',
        status: response.status,
        message: `wrong username or password for user "${username}" (HTTP ${response.status})`,
      });
    }
    const token = this.tokenOf('authenticate', response);
    if (!token) {
      throw new ApiError({
        operation: 'authenticate',
        code: 'INVALID_RESPONSE',
        status: response.status,
        message: 'no token in the response',
      });
    }
    return token;
  }

  private tokenOf(operation: 'authenticate' | 'renewToken', response: RawResponse): string | undefined {
    const answer = loginAnswer(this.checked(operation, response).data);
    this.drift?.check(operation, answer);
    return tokenFrom(answer);
  }

  private async renewToken(current: string): Promise<string> {
    this.options.log?.('debug', 'renewing the token');
    const response = await this.withSignal('renewToken', {}, (signal) =>
      this.transport.send({
        operation: 'renewToken',
        method: 'GET',
        url: this.url('renewToken', {}),
        token: current,
        signal,
      }),
    );
    const token = this.tokenOf('renewToken', response);
    if (!token) {
      throw new ApiError({
        operation: 'renewToken',
        code: 'INVALID_RESPONSE',
        status: response.status,
        message: 'no token in the response',
      });
    }
    return token;
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * An id for a path segment: not blank, well-formed text (a lone surrogate cannot be encoded;
 * encodeURIComponent would throw), and not "." or ".." (which URL resolution would turn into
 * another route).
 */
function checkedId(operation: OperationId, name: string, value: unknown): string {
  const invalid = (problem: string) =>
    new ApiError({ operation, code: 'INVALID_INPUT', message: `${name} ${problem}` });
  if (typeof value !== 'string' || value.trim() === '') throw invalid('is missing or empty');
  if (value === '.' || value === '..') throw invalid(`must not be "${value}"`);
  if (LONE_SURROGATE.test(value)) throw illFormed(operation, name);
  return value;
}

function illFormed(operation: OperationId, name: string): ApiError {
  return new ApiError({
    operation,
    code: 'INVALID_INPUT',
    message: `${name} is not well-formed text (it holds a lone UTF-16 surrogate)`,
  });
}

/** Resolves after `ms`, or rejects with the signal's reason (a close, the caller's abort). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits for a shared promise (a login other callers wait for too) unless this caller's signal fires first. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
