/**
 * Every example request of the vendor guide (test/guide/requests.json), sent to the emulator over
 * HTTPS as the guide writes it, apart from the base URL, the token, the login, and the ids the guide
 * fills with example values or leaves as placeholders, which become the ids of what the test set up.
 * Each answer must have the documented status and the documented fields with their documented types.
 *
 * Each example runs against an emulator of its own, with just what it needs set up beforehand
 * (a person with the example's name, tag and attribute, an enrolled face, a detection, a
 * document), made with the guide's own endpoints and field names. The requests are sent with
 * Node's https, byte for byte what the data says; curl is not needed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import sharp from 'sharp';
import { createSimpleEngine } from '../../emulator/engine/simple';
import { startEmulator, type Emulator } from '../../emulator/server';
import { EXAMPLES, checkJson, type BodyValue, type ExampleRequest } from '../guide/guide';

const FIXTURES = path.join(__dirname, '..', 'fixtures');
/** The seeded Administrator: every permission of the contract. */
const LOGIN = { username: 'admin', password: 'admin' };

interface Answer {
  status: number;
  contentType: string;
  body: Buffer;
}

type Part = { name: string; value: string } | { name: string; fileName: string; data: Buffer };

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.pdf': 'application/pdf',
  '.bin': 'application/octet-stream',
};

/** A multipart/form-data body, each file part typed by its name's extension as curl -F does. */
function multipart(parts: Part[]): { body: Buffer; contentType: string } {
  const boundary = `----guide-example-${Date.now().toString(16)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if ('fileName' in part) {
      const type = CONTENT_TYPES[path.extname(part.fileName)] ?? 'application/octet-stream';
      head += `; filename="${part.fileName}"\r\nContent-Type: ${type}`;
    }
    chunks.push(Buffer.from(`${head}\r\n\r\n`));
    chunks.push('fileName' in part ? part.data : Buffer.from(part.value));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

interface Outgoing {
  method: string;
  /** Path and query. */
  target: string;
  token?: string;
  json?: unknown;
  form?: Part[];
}

function send(emu: Emulator, request: Outgoing): Promise<Answer> {
  const headers: Record<string, string> = {};
  let body: Buffer | undefined;
  if (request.token) headers.Authorization = `Bearer ${request.token}`;
  if (request.json !== undefined) {
    body = Buffer.from(JSON.stringify(request.json));
    headers['Content-Type'] = 'application/json';
  } else if (request.form) {
    const encoded = multipart(request.form);
    body = encoded.body;
    headers['Content-Type'] = encoded.contentType;
  }
  return new Promise((resolve, reject) => {
    const outgoing = https.request(
      `${emu.url}${request.target}`,
      { method: request.method, ca: emu.ca, agent: false, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            contentType: String(response.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks),
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const shown = (answer: Answer) =>
  `HTTP ${answer.status} ${answer.contentType}: ${answer.body.toString('utf8').slice(0, 400)}`;

/** The current UTC time to the second, as the guide's `date -u +%Y-%m-%dT%H:%M:%SZ` writes it. */
const utcSeconds = (date = new Date()) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The files the guide's examples name: photos of the test fixtures, a small PDF, embeddings. */
async function exampleFiles(): Promise<Record<string, Buffer>> {
  const face = readFileSync(path.join(FIXTURES, 'obama.jpg'));
  const cropped = await sharp(face)
    .resize(112, 112, { fit: 'cover', position: 'attention' })
    .jpeg()
    .toBuffer();
  // What an edge model would send for that face: its descriptor, little-endian float32.
  const described = await createSimpleEngine().describeCropped(cropped);
  assert.ok(described, 'the cropped face is a face');
  const embeddings = Buffer.alloc(described.descriptor.length * 4);
  described.descriptor.forEach((value, i) => embeddings.writeFloatLE(value, i * 4));
  const files: Record<string, Buffer> = {
    'face.jpg': face,
    'face2.jpg': readFileSync(path.join(FIXTURES, 'obama2.jpg')),
    'cropped-aligned.jpg': cropped,
    'embeddings.bin': embeddings,
    'id-card.pdf': Buffer.from(
      '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n',
    ),
  };
  assert.deepEqual(
    Object.keys(files).sort(),
    Object.keys(EXAMPLES.files).sort(),
    'a file for each the guide names',
  );
  return files;
}

/** Set-up through the guide's own endpoints and field names, as the administrator. */
class Api {
  constructor(
    readonly emu: Emulator,
    readonly token: string,
    readonly files: Record<string, Buffer>,
  ) {}

  /** A request that must succeed; its JSON answer, or undefined for an empty one. */
  async call(method: string, target: string, body: { json?: unknown; form?: Part[] } = {}): Promise<unknown> {
    const answer = await send(this.emu, { method, target, token: this.token, ...body });
    assert.ok(answer.status >= 200 && answer.status < 300, `set-up ${method} ${target}: ${shown(answer)}`);
    return answer.body.length > 0 && /json/.test(answer.contentType)
      ? JSON.parse(answer.body.toString('utf8'))
      : undefined;
  }

  base64(file: string): string {
    return this.files[file]!.toString('base64');
  }

  async enroll(file: string, photoReferenceId?: string): Promise<string> {
    const answer = (await this.call('POST', '/api/v1/faces/faceEnroll', {
      json: { faceImage: this.base64(file), ...(photoReferenceId ? { photoReferenceId } : {}) },
    })) as { personId?: string };
    assert.ok(answer?.personId, 'set-up: faceEnroll gave a personId');
    return answer.personId;
  }

  async createTag(tagName: string): Promise<string> {
    const created = (await this.call('POST', '/api/v1/Tags', {
      json: { tagName, disabled: false, description: `${tagName} (set-up)`, defaultExpirePeriod: '00:00:00' },
    })) as { tagId?: string } | undefined;
    if (created?.tagId) return created.tagId;
    const listed = (await this.call('GET', `/api/v1/Tags?tagName=${encodeURIComponent(tagName)}`)) as {
      tagId: string;
    }[];
    assert.ok(listed[0]?.tagId, `set-up: the tag ${tagName} was created`);
    return listed[0].tagId;
  }

  async field(personId: string, name: string, stringValue: string): Promise<void> {
    await this.call('PUT', `/api/v1/people/${personId}/entityFields`, { json: { name, stringValue } });
  }

  /** The person of the guide's examples: Jane Doe, tagged VIP, LoyaltyTier Gold, enrolled with this photo. */
  async janeDoe(file: string): Promise<{ personId: string; tagId: string }> {
    const personId = await this.enroll(file);
    await this.call('PUT', `/api/v1/people/${personId}/aliases`, {
      json: { firstName: 'Jane', lastName: 'Doe' },
    });
    const tagId = await this.createTag('VIP');
    await this.call('PUT', `/api/v1/people/${personId}/tags`, { json: { tagId } });
    await this.field(personId, 'LoyaltyTier', 'Gold');
    return { personId, tagId };
  }

  /** A detection of this photo at this time (duplicate prevention off, so each one is recorded). */
  async detect(file: string, at: Date): Promise<{ faceId: string; detectId: string }> {
    const answer = (await this.call('POST', '/api/v1/faceEdge/publishWithResponse', {
      json: {
        expanded: this.base64(file),
        detectorName: 'FrontDoorCam',
        ianaTimeZone: 'America/Los_Angeles',
        detectTimeUtc: utcSeconds(at),
        largestFaceOnly: true,
        allowDoubleDetection: true,
      },
    })) as { detectedFaces?: { faceId: string; detectId: string }[] };
    const [face] = answer?.detectedFaces ?? [];
    assert.ok(face, 'set-up: publishWithResponse found the face');
    return face;
  }
}

/** What an example needs: the ids it is sent with, and what its answer must say of them. */
interface Prepared {
  ids?: Record<string, string>;
  /** Problems with the answer beyond its documented shape (the guide's meaning of the call). */
  check?: (json: unknown, answer: Answer) => string[] | Promise<string[]>;
}

const problemIf = (failed: boolean, problem: string) => (failed ? [problem] : []);
type Person = { personId: string; tags?: { tagId: string }[] };
const ids = (people: unknown) => (people as Person[]).map((person) => person.personId);

/** A search answer: the person it should find is in it, the one it should not is not. */
const finds = (expected: string, notExpected: string) => (json: unknown) => [
  ...problemIf(!ids(json).includes(expected), `the matching person ${expected} is not in the answer`),
  ...problemIf(
    ids(json).includes(notExpected),
    `the person ${notExpected}, who does not match, is in the answer`,
  ),
];

/** An EdgePerson answer: Jane Doe, the VIP. */
const isJane = (personId: string) => (json: unknown) => {
  const person = json as { personId: string; firstName: string; lastName: string; tags: { name: string }[] };
  return [
    ...problemIf(person.personId !== personId, `personId ${person.personId}, not the enrolled ${personId}`),
    ...problemIf(`${person.firstName} ${person.lastName}` !== 'Jane Doe', 'not named Jane Doe'),
    ...problemIf(!person.tags?.some((tag) => tag.name === 'VIP'), 'no VIP tag'),
  ];
};

/** Detections at these times, by FrontDoorCam, in this order of dateTimeUtc. */
const detectionsOf = (times: Date[], ascending: boolean, take: number) => (json: unknown) => {
  const items = json as { dateTimeUtc: string; detector: string; timeZone: string }[];
  const at = items.map((item) => Date.parse(item.dateTimeUtc));
  const sorted = at.every((time, i) => i === 0 || (ascending ? at[i - 1]! <= time : at[i - 1]! >= time));
  return [
    ...problemIf(items.length > take, `${items.length} items, more than take=${take}`),
    ...problemIf(
      !sorted,
      `not ${ascending ? 'oldest' : 'newest'} first: ${items.map((i) => i.dateTimeUtc).join(', ')}`,
    ),
    ...times.flatMap((time) =>
      problemIf(
        !items.some(
          (item) =>
            Date.parse(item.dateTimeUtc) === time.getTime() &&
            item.detector === 'FrontDoorCam' &&
            item.timeZone === 'America/Los_Angeles',
        ),
        `no detection by FrontDoorCam (America/Los_Angeles) at ${utcSeconds(time)}`,
      ),
    ),
  ];
};

/** Two detection times a minute apart, in the past, to the second. */
function twoTimes(): Date[] {
  const now = Math.floor(Date.now() / 1000) * 1000;
  return [new Date(now - 120_000), new Date(now - 60_000)];
}

/** What each example needs set up, by its id in requests.json. */
const PREPARE: Record<string, (api: Api) => Promise<Prepared>> = {
  'authentication-log-in': async () => ({
    check: (json) => {
      const { username, token } = json as { username: string; token: string };
      return [
        ...problemIf(username !== LOGIN.username, `username ${username}, not who logged in`),
        ...problemIf(!token, 'an empty token'),
      ];
    },
  }),
  'authentication-renew': async () => ({
    check: (json) =>
      problemIf((json as { username: string }).username !== LOGIN.username, 'not the user of the token'),
  }),
  publish: async () => ({}),
  'publish-with-response-curl': (api) => preparePublishWithResponse(api),
  'publish-with-response-raw': (api) => preparePublishWithResponse(api),
  recognize: async (api) => ({ check: isJane((await api.janeDoe('cropped-aligned.jpg')).personId) }),
  lookup: async (api) => ({ check: isJane((await api.janeDoe('cropped-aligned.jpg')).personId) }),
  'face-enroll-new-person': async (api) => ({
    check: async (json) => {
      const { personId } = json as { personId: string };
      const person = await send(api.emu, {
        method: 'GET',
        target: `/api/v1/people/${personId}`,
        token: api.token,
      });
      return problemIf(person.status !== 200, `the new person cannot be read: ${shown(person)}`);
    },
  }),
  'face-enroll-existing-person': async (api) => {
    const personId = await api.enroll('face2.jpg');
    return {
      ids: { personId },
      check: (json) =>
        problemIf((json as { personId: string }).personId !== personId, 'not the person given'),
    };
  },
  'face-detect': async (api) => {
    const personId = await api.enroll('face.jpg');
    return {
      check: (json) => {
        const [face] = (json as { detections: { personId: string | null }[] }).detections;
        return problemIf(face?.personId !== personId, `the enrolled face is not matched to ${personId}`);
      },
    };
  },
  'face-compare': async () => ({}),
  'check-image-reference': async (api) => {
    await api.enroll('face.jpg', 'ext-123');
    return {
      check: (json) => problemIf((json as { exists: boolean }).exists !== true, 'ext-123 was enrolled'),
    };
  },
  'search-people-by-tag': async (api) => {
    const { personId, tagId } = await api.janeDoe('face.jpg');
    const other = await api.enroll('face2.jpg');
    return {
      ids: { tagId },
      check: (json) => [
        ...finds(personId, other)(json),
        ...(json as Person[]).flatMap((person) =>
          problemIf(
            !person.tags?.some((tag) => tag.tagId === tagId),
            `${person.personId} does not have the tag`,
          ),
        ),
      ],
    };
  },
  'search-people-by-entity-field': (api) => prepareFieldSearch(api),
  'search-people-by-entity-field-path': (api) => prepareFieldSearch(api),
  'get-identity': async (api) => {
    const { personId } = await api.janeDoe('face.jpg');
    await api.call('PUT', `/api/v1/people/${personId}/addresses`, {
      json: { street: '123 Main St', city: 'Las Vegas', state: 'NV', postalCode: '89101', country: 'USA' },
    });
    await api.call('PUT', `/api/v1/people/${personId}/notes`, {
      json: { summary: 'VIP', body: 'Prefers window seating', author: 'host@venue.com' },
    });
    return {
      ids: { personId },
      check: (json) => problemIf((json as Person).personId !== personId, 'not the person asked for'),
    };
  },
  'tags-create': async () => ({
    check: (json) => problemIf((json as { tagName: string }).tagName !== 'VIP', 'not the tag created'),
  }),
  'tags-list': async (api) => {
    const tagId = await api.createTag('VIP');
    return {
      check: (json) =>
        problemIf(!(json as { tagId: string }[]).some((tag) => tag.tagId === tagId), 'the tag is not listed'),
    };
  },
  'detections-by-person': async (api) => {
    const personId = await api.enroll('face.jpg');
    const times = twoTimes();
    for (const time of times) await api.detect('face.jpg', time);
    return { ids: { personId }, check: detectionsOf(times, false, 10) };
  },
  'detections-by-face': async (api) => {
    await api.enroll('face.jpg');
    const times = twoTimes();
    const { faceId } = await api.detect('face.jpg', times[0]!);
    await api.detect('face.jpg', times[1]!);
    return { ids: { faceId }, check: detectionsOf(times, true, 25) };
  },
  'photos-enrollment-photo': async (api) => {
    await api.enroll('face.jpg', 'enrollment-photo');
    const reference = (await api.call('GET', '/api/v1/faces/checkImageReference/enrollment-photo')) as {
      faceId: string;
    };
    return { ids: { faceId: reference.faceId } };
  },
  'photos-detection-photo': async (api) => {
    await api.enroll('face.jpg');
    const { faceId, detectId } = await api.detect('face.jpg', new Date());
    return { ids: { faceId, detectionId: detectId } };
  },
  'documents-upload': async (api) => ({ ids: { personId: await api.enroll('face.jpg') } }),
  'documents-download': async (api) => {
    const personId = await api.enroll('face.jpg');
    const documentId = 'id-card-front';
    await api.call('POST', '/api/v1/people/fileDocuments/upload', {
      form: [
        { name: 'personId', value: personId },
        { name: 'name', value: 'ID Card' },
        { name: 'publicId', value: documentId },
        { name: 'file', fileName: 'id-card.pdf', data: api.files['id-card.pdf']! },
      ],
    });
    return {
      ids: { personId, documentId },
      check: (_json, answer) =>
        problemIf(!answer.body.equals(api.files['id-card.pdf']!), 'not the bytes uploaded'),
    };
  },
};

/** Jane Doe enrolled with face.jpg; the answer's face is hers, with the sections asked for. */
async function preparePublishWithResponse(api: Api): Promise<Prepared> {
  const { personId, tagId } = await api.janeDoe('face.jpg');
  return {
    check: (json) => {
      const faces = (json as { detectedFaces: { person?: Record<string, unknown> }[] }).detectedFaces;
      const person = faces[0]?.person ?? {};
      const aliases = (person.aliases ?? []) as { firstName: string; lastName: string }[];
      const tags = (person.personTags ?? []) as { tagId: string; tag?: { name: string } }[];
      const fields = (person.entityFields ?? []) as { name: string; stringValue: string }[];
      return [
        ...problemIf(faces.length !== 1, `${faces.length} faces with largestFaceOnly`),
        ...problemIf(person.personId !== personId, `person ${String(person.personId)}, not ${personId}`),
        ...problemIf(
          !aliases.some((a) => `${a.firstName} ${a.lastName}` === 'Jane Doe'),
          'no alias Jane Doe',
        ),
        ...problemIf(!tags.some((t) => t.tagId === tagId && t.tag?.name === 'VIP'), 'no VIP person tag'),
        ...problemIf(
          !fields.some((f) => f.name === 'LoyaltyTier' && f.stringValue === 'Gold'),
          'no LoyaltyTier Gold',
        ),
      ];
    },
  };
}

/** Jane Doe (LoyaltyTier Gold) and someone else (Silver): the search finds her only. */
async function prepareFieldSearch(api: Api): Promise<Prepared> {
  const { personId } = await api.janeDoe('face.jpg');
  const other = await api.enroll('face2.jpg');
  await api.field(other, 'LoyaltyTier', 'Silver');
  return { check: finds(personId, other) };
}

/** The example as sent: the guide's request with the ids of the set-up put in. */
function outgoing(request: ExampleRequest, api: Api, given: Record<string, string>): Outgoing {
  const fill = (name: string, value: string | null, where: string) => {
    const filled = given[name] ?? value;
    if (filled === null)
      throw new Error(`${request.id}: nothing set up for the placeholder ${where} ${name}`);
    return filled;
  };
  const target =
    request.path.replace(/\{(\w+)\}/g, (_, name: string) =>
      encodeURIComponent(fill(name, request.pathValues[name] ?? null, 'path')),
    ) +
    (Object.keys(request.query).length === 0
      ? ''
      : `?${new URLSearchParams(Object.entries(request.query).map(([name, value]) => [name, fill(name, value, 'query')]))}`);
  const value = (v: BodyValue): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if ('$file' in v) return api.base64(v.$file);
    if ('$now' in v) return utcSeconds();
    return LOGIN[v.$login];
  };
  const result: Outgoing = { method: request.method, target, ...(request.auth ? { token: api.token } : {}) };
  if (request.body && 'json' in request.body) {
    result.json = Object.fromEntries(Object.entries(request.body.json).map(([name, v]) => [name, value(v)]));
  } else if (request.body) {
    result.form = request.body.form.map((part) =>
      'file' in part
        ? { name: part.name, fileName: part.file, data: api.files[part.file]! }
        : { name: part.name, value: fill(part.name, part.value, 'form') },
    );
  }
  return result;
}

/** How the answer departs from what the guide documents for the example. */
function departures(request: ExampleRequest, answer: Answer): { json: unknown; problems: string[] } {
  const documented = request.response;
  switch (documented.body) {
    case 'empty':
      return {
        json: undefined,
        problems: problemIf(answer.body.length > 0, `a body where the guide has none: ${shown(answer)}`),
      };
    case 'jpeg':
      return {
        json: undefined,
        problems: [
          ...problemIf(
            !/^image\/jpeg\b/.test(answer.contentType),
            `content type ${answer.contentType}, not image/jpeg`,
          ),
          ...problemIf(
            !answer.body.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])),
            'the bytes are not a JPEG',
          ),
        ],
      };
    case 'file':
      return { json: undefined, problems: problemIf(answer.body.length === 0, 'no file bytes') };
    case 'json': {
      if (!/^application\/([\w.+-]+\+)?json\b/.test(answer.contentType)) {
        return { json: undefined, problems: [`content type ${answer.contentType}, not JSON`] };
      }
      const json: unknown = JSON.parse(answer.body.toString('utf8'));
      return { json, problems: documented.json ? checkJson(json, documented.json) : [] };
    }
  }
}

const pageName = (url: string) => url.slice(url.indexOf('/identities/') + '/identities/'.length);

describe('the vendor guide\u2019s example requests against the emulator (HTTPS)', function () {
  let files: Record<string, Buffer>;
  let emu: Emulator | undefined;

  before(async function () {
    files = await exampleFiles();
  });

  afterEach(async function () {
    await emu?.close();
    emu = undefined;
  });

  it('has a set-up for every example of test/guide/requests.json, and none for another', function () {
    assert.deepEqual(Object.keys(PREPARE).sort(), EXAMPLES.requests.map((request) => request.id).sort());
  });

  for (const request of EXAMPLES.requests) {
    const inferred =
      request.response.shown === false ? ' [answer not shown in the guide: the inferred one]' : '';
    it(`${pageName(request.page)}: ${request.id}, ${request.method} ${request.path}${inferred}`, async function () {
      // An emulator of its own, started here so that a failed start fails this test only.
      emu = await startEmulator({ port: 0, https: true, engine: 'simple' });
      const login = await send(emu, { method: 'POST', target: '/api/v1/authenticate', json: LOGIN });
      assert.equal(login.status, 200, `log-in: ${shown(login)}`);
      const { token } = JSON.parse(login.body.toString('utf8')) as { token: string };
      const api = new Api(emu, token, files);
      const prepared = await PREPARE[request.id]!(api);

      const answer = await send(emu, outgoing(request, api, prepared.ids ?? {}));
      assert.equal(answer.status, request.response.status, shown(answer));
      const { json, problems } = departures(request, answer);
      if (problems.length === 0 && prepared.check) problems.push(...(await prepared.check(json, answer)));
      assert.deepEqual(problems, [], shown(answer));
    });
  }
});
