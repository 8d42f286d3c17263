/**
 * The emulator against the vendor guide, page by page: the requests as the guide writes them, over
 * plain HTTP (no client in between), and the answers held to the contract and to the guide's shapes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startEmulator, type Emulator } from '../../emulator/server';
import { knownPermissions } from '../../emulator/users';

type Json = Record<string, unknown>;
interface Answer<T = Json> {
  status: number;
  body: T;
}

/**
 * A JPEG the simple engine sees as one face of its own (its bytes are the face): plain colours that
 * are close can compress to the same bytes, so a number after the end-of-image marker tells them apart.
 */
const face = async (n: number) =>
  Buffer.concat([
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: n % 256, g: 40, b: 90 } } })
      .jpeg()
      .toBuffer(),
    Buffer.from(`\nface ${n}`),
  ]);

const keys = (value: unknown) => Object.keys(value as Json).sort();

describe('emulator, page by page of the guide', () => {
  let emu: Emulator;
  const tokens = new Map<string, string>();

  async function login(username: string, password = username): Promise<string> {
    const known = tokens.get(username);
    if (known) return known;
    const response = await fetch(`${emu.url}/api/v1/authenticate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const { token } = (await response.json()) as { token: string };
    tokens.set(username, token);
    return token;
  }

  /** One call as `user` (admin by default); the body parsed when there is one. */
  async function call<T = Json>(
    method: string,
    route: string,
    body?: unknown,
    user = 'admin',
  ): Promise<Answer<T>> {
    const headers: Record<string, string> = { Authorization: `Bearer ${await login(user)}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(`${emu.url}${route}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** The call, which must answer 200 with what the contract documents for `operationId`. */
  async function ok<T = Json>(
    operationId: string,
    method: string,
    route: string,
    body?: unknown,
  ): Promise<T> {
    const answer = await call<T>(method, route, body);
    assert.equal(answer.status, 200, `${method} ${route}: ${JSON.stringify(answer.body)}`);
    assert.equal(emu.routes.validateResponse(operationId, 200, answer.body), undefined);
    return answer.body;
  }

  let faceNumber = 0;
  /** A new person, enrolled from a face of their own. */
  async function enroll(): Promise<{ personId: string; image: Buffer }> {
    const image = await face(++faceNumber);
    const { personId } = await ok<{ personId: string }>('faceEnroll', 'POST', '/api/v1/faces/faceEnroll', {
      faceImage: image.toString('base64'),
    });
    return { personId, image };
  }

  const createTag = (tag: Json) => ok<Json & { tagId: string }>('createTag', 'POST', '/api/v1/Tags', tag);

  before(async () => {
    emu = await startEmulator({ https: false, engine: 'simple' });
  });
  after(() => emu.close());

  describe('Authentication', () => {
    it('authenticate and renewToken answer {username, token}', async () => {
      const login = await call('POST', '/api/v1/authenticate', { username: 'viewer', password: 'viewer' });
      assert.equal(login.status, 200);
      assert.deepEqual(keys(login.body), ['token', 'username']);
      assert.equal(login.body.username, 'viewer');
      const renewed = await ok('renewToken', 'GET', '/api/v1/renewToken');
      assert.deepEqual(keys(renewed), ['token', 'username']);
      assert.equal(renewed.username, 'admin');
    });

    it('refuses a wrong password with 401', async () => {
      const response = await fetch(`${emu.url}/api/v1/authenticate`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: 'nope' }),
      });
      assert.equal(response.status, 401);
    });
  });

  describe('Face Edge: recognize', () => {
    const sighting = {
      detectorName: 'FrontDoorCam',
      ianaTimeZone: 'America/Los_Angeles',
      detectTimeUtc: '2026-06-16T18:32:05Z',
    };

    it("matches the guide's curl body (croppedAligned and the three required fields)", async () => {
      const { personId, image } = await enroll();
      const person = await ok('recognize', 'POST', '/api/v1/faceEdge/recognize', {
        croppedAligned: image.toString('base64'),
        ...sighting,
      });
      assert.equal(person.personId, personId);
    });

    for (const missing of ['detectorName', 'ianaTimeZone', 'detectTimeUtc', 'croppedAligned']) {
      it(`answers 400 when ${missing} is missing`, async () => {
        const whole: Json = { croppedAligned: (await face(200)).toString('base64'), ...sighting };
        const body = Object.fromEntries(Object.entries(whole).filter(([name]) => name !== missing));
        const answer = await call('POST', '/api/v1/faceEdge/recognize', body);
        assert.equal(answer.status, 400);
        assert.match(String(answer.body.detail), new RegExp(`${missing} is required|Face bytes are empty`));
      });
    }

    it('uses 128 embeddings, and ignores embeddings of another size instead of refusing them', async () => {
      const { personId, image } = await enroll();
      const arcface = Array.from({ length: 512 }, (_, i) => Math.sin(i));
      const person = await ok('recognize', 'POST', '/api/v1/faceEdge/recognize', {
        croppedAligned: image.toString('base64'),
        embeddings: arcface,
        ...sighting,
      });
      assert.equal(person.personId, personId);
      const elsewhere = await call('POST', '/api/v1/faceEdge/recognize', {
        croppedAligned: image.toString('base64'),
        embeddings: Array.from({ length: 128 }, (_, i) => (i === 0 ? 1 : 0)),
        ...sighting,
      });
      assert.equal(elsewhere.status, 404, 'the 128 embeddings were used, and match nobody');
    });
  });

  describe('Face Edge: publish and publishWithResponse', () => {
    it("returns person.personTags as {tagId, created, expires, tag: {name}}, and aliases and fields as the guide's example", async () => {
      const { personId, image } = await enroll();
      const tag = await createTag({ tagName: 'Guest of honour' });
      await ok('upsertPersonTag', 'PUT', `/api/v1/people/${personId}/tags`, { tagId: tag.tagId });
      await ok('upsertAlias', 'PUT', `/api/v1/people/${personId}/aliases`, {
        firstName: 'Jane',
        lastName: 'Doe',
      });
      await ok('upsertEntityField', 'PUT', `/api/v1/people/${personId}/entityFields`, {
        name: 'LoyaltyTier',
        stringValue: 'Gold',
      });
      const { detectedFaces } = await ok<{ detectedFaces: { person?: Json }[] }>(
        'publishWithResponse',
        'POST',
        '/api/v1/faceEdge/publishWithResponse',
        {
          expanded: image.toString('base64'),
          detectorName: 'FrontDoorCam',
          ianaTimeZone: 'America/Los_Angeles',
          detectTimeUtc: '2026-06-16T18:32:05Z',
          largestFaceOnly: true,
          includePerson: true,
          includeNames: true,
          includeTags: true,
          includeFields: true,
        },
      );
      const person = detectedFaces[0]?.person as Json & { personTags: Json[] };
      assert.deepEqual(keys(person), ['aliases', 'entityFields', 'friendlyName', 'personId', 'personTags']);
      assert.equal(person.friendlyName, 'Jane Doe');
      assert.deepEqual(person.aliases, [
        { firstName: 'Jane', lastName: 'Doe', middleName: null, title: null },
      ]);
      assert.deepEqual(person.entityFields, [
        { name: 'LoyaltyTier', stringValue: 'Gold', dateValue: null, numberValue: null, boolValue: null },
      ]);
      assert.deepEqual(keys(person.personTags[0]), ['created', 'expires', 'tag', 'tagId']);
      assert.deepEqual(person.personTags[0]?.tag, { name: 'Guest of honour' });
      assert.equal(person.personTags[0]?.tagId, tag.tagId);
    });

    it('records every publish: it has no allowDoubleDetection, so no duplicate prevention (inferred)', async () => {
      const image = await face(201);
      const body = {
        expanded: image.toString('base64'),
        detectorName: 'Lobby',
        ianaTimeZone: 'UTC',
        detectTimeUtc: '2026-06-16T18:32:05Z',
      };
      const count = () => emu.store.detectionsWhere((d) => d.detectorName === 'Lobby').length;
      const first = await call('POST', '/api/v1/faceEdge/publish', body);
      assert.equal(first.status, 200);
      assert.equal(first.body, undefined, 'publish answers with an empty body');
      await call('POST', '/api/v1/faceEdge/publish', body);
      // Fire-and-forget: the detections are recorded after the answer.
      for (let i = 0; i < 100 && count() < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(count(), 2);
      // publishWithResponse keeps its duplicate prevention (allowDoubleDetection false by default).
      const withResponse = { ...body, detectorName: 'Lobby2' };
      const a = await ok<{ detectedFaces: Json[] }>(
        'publishWithResponse',
        'POST',
        '/api/v1/faceEdge/publishWithResponse',
        withResponse,
      );
      const b = await ok<{ detectedFaces: Json[] }>(
        'publishWithResponse',
        'POST',
        '/api/v1/faceEdge/publishWithResponse',
        withResponse,
      );
      assert.equal(b.detectedFaces[0]?.detectId, a.detectedFaces[0]?.detectId);
    });
  });

  describe('Face Recognition: checkImageReference', () => {
    let dir: string;
    let other: Emulator;
    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'identities-'));
      const usersFile = path.join(dir, 'users.json');
      writeFileSync(
        usersFile,
        JSON.stringify({
          roles: {
            Enroller: { permissions: ['Face Enrollment'] },
            Detector: { permissions: ['Face Detection'] },
          },
          users: [
            { username: 'enroller', password: 'p', roles: ['Enroller'] },
            { username: 'detector', password: 'p', roles: ['Detector'] },
            { username: 'both', password: 'p', roles: ['Enroller', 'Detector'] },
          ],
        }),
      );
      other = await startEmulator({ https: false, engine: 'simple', usersFile });
    });
    after(async () => {
      await other.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('needs both Face Detection and Face Enrollment, as the two pages disagree', async () => {
      const statusFor = async (username: string) => {
        const login = await fetch(`${other.url}/api/v1/authenticate`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ username, password: 'p' }),
        });
        const { token } = (await login.json()) as { token: string };
        const response = await fetch(`${other.url}/api/v1/faces/checkImageReference/ext-123`, {
          headers: { Authorization: `Bearer ${token}` },
        });
        return { status: response.status, body: (await response.json()) as Json };
      };
      const enroller = await statusFor('enroller');
      assert.equal(enroller.status, 403);
      assert.match(String(enroller.body.detail), /needs all of Face Detection, Face Enrollment/);
      assert.equal((await statusFor('detector')).status, 403);
      const both = await statusFor('both');
      assert.equal(both.status, 200);
      assert.deepEqual(both.body, { exists: false, faceId: null, detectId: null });
    });
  });

  describe('Tag Management', () => {
    it("creates the guide's VIP tag from its curl body and shows the Tag object", async () => {
      const tag = await createTag({
        tagName: 'VIP',
        disabled: false,
        description: 'Very important person',
        defaultExpirePeriod: '30.00:00:00',
      });
      assert.deepEqual(keys(tag), ['defaultExpirePeriod', 'description', 'disabled', 'tagId', 'tagName']);
      assert.deepEqual(await ok('getTag', 'GET', `/api/v1/Tags/${tag.tagId}`), tag);
      assert.equal(tag.defaultExpirePeriod, '30.00:00:00');
    });

    it('filters the list by ?tagName= with an exact match', async () => {
      const tag = await createTag({ tagName: 'Member' });
      assert.deepEqual(await ok('listTags', 'GET', '/api/v1/Tags?tagName=Member'), [tag]);
      assert.deepEqual(await ok('listTags', 'GET', '/api/v1/Tags?tagName=member'), []);
      assert.deepEqual(await ok('listTags', 'GET', '/api/v1/Tags?tagName=Mem'), []);
      assert.ok((await ok<Json[]>('listTags', 'GET', '/api/v1/Tags')).length > 1);
    });

    const periods: [string, string][] = [
      ['30.00:00:00', '30.00:00:00'],
      ['08:00:00', '08:00:00'],
      ['8:00:00', '08:00:00'],
      ['0.08:00:00', '08:00:00'],
      ['1.02:03:04.5', '1.02:03:04.5000000'],
      ['00:00:00.1234567', '00:00:00.1234567'],
      ['00:00:00', '00:00:00'],
    ];
    for (const [sent, shown] of periods) {
      it(`takes defaultExpirePeriod ${sent} and shows it as .NET prints a TimeSpan: ${shown}`, async () => {
        const tag = await createTag({ tagName: `period ${sent}`, defaultExpirePeriod: sent });
        assert.equal(tag.defaultExpirePeriod, shown);
      });
    }

    it('gives a tag without a defaultExpirePeriod 00:00:00 (no expiry), not disabled', async () => {
      const tag = await createTag({ tagName: 'Plain' });
      assert.equal(tag.defaultExpirePeriod, '00:00:00');
      assert.equal(tag.disabled, false);
      assert.equal(tag.description, null);
    });

    for (const bad of ['24:00:00', '00:60:00', '1.00:00', '-1.00:00:00', 'P30D', '30']) {
      it(`refuses the period ${bad} with 400`, async () => {
        const answer = await call('POST', '/api/v1/Tags', {
          tagName: `bad ${bad}`,
          defaultExpirePeriod: bad,
        });
        assert.equal(answer.status, 400);
        assert.match(String(answer.body.detail), /defaultExpirePeriod/);
      });
    }

    it('refuses a second tag of the same name (any case) with 400 (inferred)', async () => {
      await createTag({ tagName: 'Banned' });
      const answer = await call('POST', '/api/v1/Tags', { tagName: 'BANNED' });
      assert.equal(answer.status, 400);
      assert.match(String(answer.body.detail), /exists already/);
    });

    it('replaces the whole tag on PUT: a field left out gets its default (inferred)', async () => {
      const tag = await createTag({
        tagName: 'Visitor',
        description: 'Day pass',
        defaultExpirePeriod: '08:00:00',
      });
      const renamed = await ok('updateTag', 'PUT', `/api/v1/Tags/${tag.tagId}`, {
        tagName: 'Day visitor',
        disabled: true,
      });
      assert.deepEqual(renamed, {
        tagId: tag.tagId,
        tagName: 'Day visitor',
        disabled: true,
        description: null,
        defaultExpirePeriod: '00:00:00',
      });
      assert.equal((await call('PUT', `/api/v1/Tags/${crypto.randomUUID()}`, { tagName: 'x' })).status, 404);
    });

    it('deletes a tag by its id, and takes it off the people who had it (inferred)', async () => {
      const { personId } = await enroll();
      const tag = await createTag({ tagName: 'Temporary' });
      await ok('upsertPersonTag', 'PUT', `/api/v1/people/${personId}/tags`, { tagId: tag.tagId });
      assert.equal((await call('DELETE', `/api/v1/Tags/${tag.tagId}`)).status, 200);
      assert.equal((await call('GET', `/api/v1/Tags/${tag.tagId}`)).status, 404);
      assert.deepEqual(await ok('getPersonTags', 'GET', `/api/v1/people/${personId}/tags`), []);
    });
  });

  describe('Person Management: person tags', () => {
    it("applies a tag without expires for now plus the tag's defaultExpirePeriod", async () => {
      const { personId } = await enroll();
      const tag = await createTag({ tagName: 'Eight-hour pass', defaultExpirePeriod: '08:00:00' });
      const before = Date.now();
      const applied = await ok<Json & { expires: string; created: string }>(
        'upsertPersonTag',
        'PUT',
        `/api/v1/people/${personId}/tags`,
        { tagId: tag.tagId },
      );
      const after = Date.now();
      const eightHours = 8 * 3600 * 1000;
      const expires = Date.parse(applied.expires);
      assert.ok(
        expires >= before - 1000 + eightHours && expires <= after + 1000 + eightHours,
        applied.expires,
      );
      assert.ok(Date.parse(applied.created) >= before - 1000 && Date.parse(applied.created) <= after + 1000);
      assert.deepEqual(keys(applied), ['created', 'expires', 'personTagId', 'tagId']);
    });

    it('applies a tag of 00:00:00 without expiry, and keeps an expires that is sent', async () => {
      const { personId } = await enroll();
      const forever = await createTag({ tagName: 'Forever', defaultExpirePeriod: '00:00:00' });
      const month = await createTag({ tagName: 'Month', defaultExpirePeriod: '30.00:00:00' });
      const route = `/api/v1/people/${personId}/tags`;
      assert.equal((await ok('upsertPersonTag', 'PUT', route, { tagId: forever.tagId })).expires, null);
      const sent = await ok('upsertPersonTag', 'PUT', route, {
        tagId: month.tagId,
        expires: '2099-01-01T00:00:00Z',
      });
      assert.equal(sent.expires, '2099-01-01T00:00:00Z');
    });

    it('updates the applied tag named by personTagId, and applies a new one without it', async () => {
      const { personId } = await enroll();
      const tag = await createTag({ tagName: 'Regular' });
      const route = `/api/v1/people/${personId}/tags`;
      const first = await ok('upsertPersonTag', 'PUT', route, { tagId: tag.tagId });
      const updated = await ok('upsertPersonTag', 'PUT', route, {
        personTagId: first.personTagId,
        tagId: tag.tagId,
        expires: '2098-05-01T00:00:00Z',
      });
      assert.equal(updated.personTagId, first.personTagId);
      assert.equal(updated.created, first.created);
      let tags = await ok<Json[]>('getPersonTags', 'GET', route);
      assert.deepEqual(tags, [updated]);
      const second = await ok('upsertPersonTag', 'PUT', route, { tagId: tag.tagId });
      assert.notEqual(second.personTagId, first.personTagId);
      tags = await ok<Json[]>('getPersonTags', 'GET', route);
      assert.equal(tags.length, 2);
    });

    it('filters the person tags by ?tagName= (exact)', async () => {
      const { personId } = await enroll();
      const [a, b] = [await createTag({ tagName: 'Alpha' }), await createTag({ tagName: 'Beta' })];
      const route = `/api/v1/people/${personId}/tags`;
      await ok('upsertPersonTag', 'PUT', route, { tagId: a.tagId });
      await ok('upsertPersonTag', 'PUT', route, { tagId: b.tagId });
      const filtered = await ok<Json[]>('getPersonTags', 'GET', `${route}?tagName=Beta`);
      assert.deepEqual(
        filtered.map((t) => t.tagId),
        [b.tagId],
      );
      assert.deepEqual(await ok('getPersonTags', 'GET', `${route}?tagName=beta`), []);
    });

    it('removes an applied tag by the personTagId in the path, or every application of a tag by its tagId', async () => {
      const { personId } = await enroll();
      const [tag, other] = [
        await createTag({ tagName: 'Removable' }),
        await createTag({ tagName: 'Staying' }),
      ];
      const route = `/api/v1/people/${personId}/tags`;
      const applied = await ok('upsertPersonTag', 'PUT', route, { tagId: tag.tagId });
      await ok('upsertPersonTag', 'PUT', route, { tagId: tag.tagId });
      const staying = await ok('upsertPersonTag', 'PUT', route, { tagId: other.tagId });
      const removed = await call('DELETE', `${route}/${String(applied.personTagId)}`);
      assert.equal(removed.status, 200);
      assert.equal(removed.body, undefined);
      assert.equal((await ok<Json[]>('getPersonTags', 'GET', route)).length, 2);
      assert.equal((await call('DELETE', `${route}/${String(applied.personTagId)}`)).status, 404);
      // Get Identity shows no personTagId: the tag's id serves (inferred).
      assert.equal((await call('DELETE', `${route}/${tag.tagId.toUpperCase()}`)).status, 200);
      assert.deepEqual(await ok('getPersonTags', 'GET', route), [staying]);
      assert.equal((await call('DELETE', `${route}/${tag.tagId}`)).status, 404);
      assert.equal((await call('DELETE', `${route}/${crypto.randomUUID()}`)).status, 404);
    });

    it('drops a tag once it has expired, and refuses an unknown or disabled tag', async () => {
      const { personId } = await enroll();
      const route = `/api/v1/people/${personId}/tags`;
      const tag = await createTag({ tagName: 'Yesterday' });
      await ok('upsertPersonTag', 'PUT', route, { tagId: tag.tagId, expires: '2001-01-01T00:00:00Z' });
      assert.deepEqual(await ok('getPersonTags', 'GET', route), []);
      assert.equal((await call('PUT', route, { tagId: crypto.randomUUID() })).status, 404);
      const hidden = await createTag({ tagName: 'Hidden', disabled: true });
      const refused = await call('PUT', route, { tagId: hidden.tagId });
      assert.equal(refused.status, 400);
      assert.match(String(refused.body.detail), /disabled/);
    });
  });

  describe('Person Management: aliases, notes, addresses and entity fields', () => {
    const kinds = [
      {
        section: 'aliases',
        upsert: 'upsertAlias',
        id: 'personAliasId',
        item: { firstName: 'Jane', lastName: 'Doe', middleName: null, title: 'Dr.' },
        change: { firstName: 'Janet', lastName: 'Doe' },
        deletable: true,
      },
      {
        section: 'notes',
        upsert: 'upsertNote',
        id: 'noteId',
        item: { summary: 'VIP', body: 'Prefers window seating', author: 'host@venue.com', sharedId: null },
        change: { summary: 'VIP', body: 'Prefers the aisle' },
        deletable: true,
      },
      {
        section: 'entityFields',
        upsert: 'upsertEntityField',
        id: 'entityFieldId',
        item: {
          name: 'LoyaltyTier',
          stringValue: 'Gold',
          dateValue: null,
          numberValue: null,
          boolValue: null,
        },
        change: { name: 'LoyaltyTier', stringValue: 'Silver' },
        deletable: true,
      },
      {
        section: 'addresses',
        upsert: 'upsertAddress',
        id: 'personAddressId',
        item: {
          street: '123 Main St',
          street2: null,
          city: 'Las Vegas',
          state: 'NV',
          postalCode: '89101',
          country: 'USA',
        },
        change: { street: '1 Strip', city: 'Las Vegas', state: 'NV', postalCode: '89109', country: 'USA' },
        deletable: false,
      },
    ] as const;

    /** The section as the person record shows it (addresses have no GET of their own). */
    const listed = async (personId: string, section: string) =>
      (await ok<Record<string, Json[]>>('getPerson', 'GET', `/api/v1/people/${personId}`))[section] ?? [];

    for (const kind of kinds) {
      it(`${kind.section}: PUT without ${kind.id} creates an item, every time`, async () => {
        const { personId } = await enroll();
        const route = `/api/v1/people/${personId}/${kind.section}`;
        const first = await ok(kind.upsert, 'PUT', route, kind.item);
        assert.deepEqual(first, { [kind.id]: first[kind.id], ...kind.item });
        await ok(kind.upsert, 'PUT', route, kind.item);
        const items = await listed(personId, kind.section);
        assert.equal(items.length, 2);
        assert.notEqual(items[0]?.[kind.id], items[1]?.[kind.id]);
      });

      it(`${kind.section}: PUT with ${kind.id} replaces that item; an unknown id creates it under that id`, async () => {
        const { personId } = await enroll();
        const route = `/api/v1/people/${personId}/${kind.section}`;
        const first = await ok(kind.upsert, 'PUT', route, kind.item);
        const id = first[kind.id] as string;
        const updated = await ok(kind.upsert, 'PUT', route, { ...kind.change, [kind.id]: id.toUpperCase() });
        assert.equal(updated[kind.id], id);
        let items = await listed(personId, kind.section);
        assert.equal(items.length, 1);
        assert.deepEqual(items[0], updated);
        // Replaced, not merged: what the change left out is null now.
        for (const field of Object.keys(kind.item)) {
          assert.equal(items[0]?.[field], (kind.change as Json)[field] ?? null, field);
        }
        const chosen = crypto.randomUUID();
        await ok(kind.upsert, 'PUT', route, { ...kind.item, [kind.id]: chosen });
        items = await listed(personId, kind.section);
        assert.deepEqual(
          items.map((item) => item[kind.id]),
          [id, chosen],
        );
        const notGuid = await call('PUT', route, { ...kind.item, [kind.id]: 'alias-1' });
        assert.equal(notGuid.status, 400);
      });

      if (kind.deletable) {
        it(`${kind.section}: DELETE by the id in the path; an unknown id is a 404`, async () => {
          const { personId } = await enroll();
          const route = `/api/v1/people/${personId}/${kind.section}`;
          const kept = await ok(kind.upsert, 'PUT', route, kind.item);
          const gone = await ok(kind.upsert, 'PUT', route, kind.item);
          const removed = await call('DELETE', `${route}/${String(gone[kind.id])}`);
          assert.equal(removed.status, 200);
          assert.equal(removed.body, undefined);
          assert.deepEqual(await listed(personId, kind.section), [kept]);
          assert.equal((await call('DELETE', `${route}/${String(gone[kind.id])}`)).status, 404);
          assert.equal((await call('DELETE', `${route}/${crypto.randomUUID()}`)).status, 404);
          // The old query form is not an endpoint.
          assert.equal((await call('DELETE', `${route}?${kind.id}=${String(kept[kind.id])}`)).status, 405);
        });
      }
    }

    it('drops fields the guide does not have (street stays, line1 goes)', async () => {
      const { personId } = await enroll();
      const address = await ok('upsertAddress', 'PUT', `/api/v1/people/${personId}/addresses`, {
        street: '123 Main St',
        line1: 'not a vendor field',
        city: 'Las Vegas',
        state: 'NV',
        postalCode: '89101',
        country: 'USA',
      });
      assert.equal(address.street, '123 Main St');
      assert.equal('line1' in address, false);
    });

    it('answers 400 for a note without its summary or body', async () => {
      const { personId } = await enroll();
      const answer = await call('PUT', `/api/v1/people/${personId}/notes`, { text: 'the old shape' });
      assert.equal(answer.status, 400);
    });

    it('filters entity fields by ?fieldName= (exact)', async () => {
      const { personId } = await enroll();
      const route = `/api/v1/people/${personId}/entityFields`;
      await ok('upsertEntityField', 'PUT', route, { name: 'LoyaltyTier', stringValue: 'Gold' });
      await ok('upsertEntityField', 'PUT', route, { name: 'Employer', stringValue: 'ACME' });
      const tier = await ok<Json[]>('getEntityFields', 'GET', `${route}?fieldName=LoyaltyTier`);
      assert.deepEqual(
        tier.map((f) => f.stringValue),
        ['Gold'],
      );
      assert.deepEqual(await ok('getEntityFields', 'GET', `${route}?fieldName=loyaltytier`), []);
      assert.equal((await ok<Json[]>('getEntityFields', 'GET', route)).length, 2);
    });

    it('answers 404 for an unknown person', async () => {
      assert.equal((await call('GET', `/api/v1/people/${crypto.randomUUID()}/aliases`)).status, 404);
      assert.equal(
        (await call('PUT', `/api/v1/people/${crypto.randomUUID()}/notes`, { summary: 's', body: 'b' }))
          .status,
        404,
      );
    });
  });

  describe('Get Identity', () => {
    it('shows the person as IdentityPersonItem: personId, aliases, addresses, entityFields, tags, notes and nothing else', async () => {
      const { personId } = await enroll();
      const tag = await createTag({ tagName: 'Identity', defaultExpirePeriod: '00:00:00' });
      const applied = await ok('upsertPersonTag', 'PUT', `/api/v1/people/${personId}/tags`, {
        tagId: tag.tagId,
      });
      await ok('upsertNote', 'PUT', `/api/v1/people/${personId}/notes`, {
        summary: 'VIP',
        body: 'Window seat',
      });
      const person = await ok<Json & { tags: Json[] }>('getPerson', 'GET', `/api/v1/people/${personId}`);
      assert.deepEqual(keys(person), ['addresses', 'aliases', 'entityFields', 'notes', 'personId', 'tags']);
      assert.deepEqual(person.tags, [{ tagId: tag.tagId, expires: null, created: applied.created }]);
      assert.deepEqual(person.notes, [
        {
          noteId: (person.notes as Json[])[0]?.noteId,
          summary: 'VIP',
          body: 'Window seat',
          author: null,
          sharedId: null,
        },
      ]);
      assert.equal((await call('GET', `/api/v1/people/${crypto.randomUUID()}`)).status, 404);
    });
  });

  describe('Search People', () => {
    let gold: string;
    let silver: string;
    let untiered: string;
    let vipTag: string;

    before(async () => {
      [gold, silver, untiered] = [
        (await enroll()).personId,
        (await enroll()).personId,
        (await enroll()).personId,
      ];
      const field = (personId: string, value: string) =>
        ok('upsertEntityField', 'PUT', `/api/v1/people/${personId}/entityFields`, {
          name: 'Search Tier',
          stringValue: value,
        });
      await field(gold, 'Gold Plus');
      await field(silver, 'Silver');
      vipTag = (await createTag({ tagName: 'Search VIP' })).tagId;
      for (const personId of [gold, untiered]) {
        await ok('upsertPersonTag', 'PUT', `/api/v1/people/${personId}/tags`, { tagId: vipTag });
      }
    });

    const ids = (people: Json[]) => people.map((p) => p.personId).sort();
    const search = async (query: string) =>
      ids(await ok<Json[]>('queryPeople', 'GET', `/api/v1/people?${query}`));

    it('finds the people who have a tag (?tagId=)', async () => {
      assert.deepEqual(await search(`tagId=${vipTag}`), [gold, untiered].sort());
    });

    it('finds by entityFieldName and entityFieldStringValue, matching the value exactly', async () => {
      assert.deepEqual(await search('entityFieldName=Search%20Tier&entityFieldStringValue=Gold%20Plus'), [
        gold,
      ]);
      assert.deepEqual(await search('entityFieldName=Search%20Tier&entityFieldStringValue=gold%20plus'), []);
      assert.deepEqual(await search('entityFieldName=Search%20Tier&entityFieldStringValue=Gold'), []);
    });

    it('finds everyone who has the field set when the value is left out', async () => {
      assert.deepEqual(await search('entityFieldName=Search%20Tier'), [gold, silver].sort());
    });

    it('takes both filters together (inferred: both must match), and answers 400 for a value without its field', async () => {
      assert.deepEqual(await search(`tagId=${vipTag}&entityFieldName=Search%20Tier`), [gold]);
      assert.equal((await call('GET', '/api/v1/people?entityFieldStringValue=Silver')).status, 400);
    });

    it('returns every person without a filter (inferred), each as Get Identity shows them', async () => {
      const everyone = await ok<Json[]>('queryPeople', 'GET', '/api/v1/people');
      assert.ok([gold, silver, untiered].every((id) => everyone.some((p) => p.personId === id)));
      for (const person of everyone) {
        assert.deepEqual(keys(person), ['addresses', 'aliases', 'entityFields', 'notes', 'personId', 'tags']);
      }
    });

    it('answers the path-style search like the query form', async () => {
      const path = (name: string, value: string) =>
        ok<Json[]>(
          'queryPeopleByEntityField',
          'GET',
          `/api/v1/people/entityField/${encodeURIComponent(name)}/entityValue/${encodeURIComponent(value)}`,
        );
      assert.deepEqual(ids(await path('Search Tier', 'Gold Plus')), [gold]);
      assert.deepEqual(ids(await path('Search Tier', 'Silver')), [silver]);
      assert.deepEqual(ids(await path('Search Tier', 'silver')), []);
    });
  });

  describe('Detections', () => {
    const T0 = Date.parse('2025-03-01T10:00:00Z');
    const minute = 60_000;
    let faceId: string;

    before(async () => {
      const image = await face(230);
      // Twelve sightings a minute apart, published out of order.
      for (const i of [5, 0, 11, 3, 8, 1, 10, 2, 9, 4, 7, 6]) {
        const { detectedFaces } = await ok<{ detectedFaces: { faceId: string }[] }>(
          'publishWithResponse',
          'POST',
          '/api/v1/faceEdge/publishWithResponse',
          {
            expanded: image.toString('base64'),
            detectorName: `Cam${i}`,
            ianaTimeZone: 'America/Los_Angeles',
            detectTimeUtc: new Date(T0 + i * minute).toISOString(),
          },
        );
        faceId = detectedFaces[0]?.faceId ?? '';
      }
    });

    type Item = { dateTimeUtc: string; detector: string; image: string | null };
    const page = (query = '') =>
      ok<Item[]>('getDetectionsByFace', 'GET', `/api/v1/people/detections/faceId/${faceId}${query}`);
    const detectors = (items: Item[]) => items.map((item) => item.detector);
    const cams = (...n: number[]) => n.map((i) => `Cam${i}`);

    it('without parameters returns the 10 oldest, oldest first', async () => {
      assert.deepEqual(detectors(await page()), cams(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
    });

    it('dateAscending=false returns the newest first', async () => {
      assert.deepEqual(detectors(await page('?take=3&dateAscending=false')), cams(11, 10, 9));
    });

    it('pages with skip and take', async () => {
      assert.deepEqual(detectors(await page('?skip=10')), cams(10, 11));
      assert.deepEqual(detectors(await page('?skip=2&take=2')), cams(2, 3));
      assert.deepEqual(await page('?skip=12'), []);
    });

    it('keeps to the epochStartMs..epochEndMs window, both ends included', async () => {
      const window = `?epochStartMs=${T0 + 3 * minute}&epochEndMs=${T0 + 5 * minute}`;
      assert.deepEqual(detectors(await page(window)), cams(3, 4, 5));
      assert.deepEqual(detectors(await page(`?epochStartMs=${T0 + 10 * minute}`)), cams(10, 11));
      assert.deepEqual(detectors(await page(`?epochEndMs=${T0 + minute}&dateAscending=false`)), cams(1, 0));
    });

    it('shows each item as the guide does: {confidence, dateTimeUtc, timeZone, detector, image}', async () => {
      const [first] = await page('?take=1');
      assert.deepEqual(keys(first), ['confidence', 'dateTimeUtc', 'detector', 'image', 'timeZone']);
      assert.equal(first?.dateTimeUtc, '2025-03-01T10:00:00Z');
      assert.equal((first as Json).timeZone, 'America/Los_Angeles');
      const photo = Buffer.from(first?.image ?? '', 'base64');
      assert.deepEqual([...photo.subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
    });

    it("by person: the person's detections, the same way", async () => {
      const { personId, image } = await enroll();
      for (const i of [1, 0]) {
        await ok('publishWithResponse', 'POST', '/api/v1/faceEdge/publishWithResponse', {
          expanded: image.toString('base64'),
          detectorName: `Door${i}`,
          ianaTimeZone: 'UTC',
          detectTimeUtc: new Date(T0 + i * minute).toISOString(),
        });
      }
      const items = await ok<Item[]>(
        'getDetectionsByPerson',
        'GET',
        `/api/v1/people/detections/personId/${personId}`,
      );
      // The emulator records the enrollment photo as a detection too (inferred: checkImageReference names
      // a detectId for it), taken now: the newest.
      assert.deepEqual(detectors(items), ['Door0', 'Door1', 'enrollment']);
      const unknown = await call('GET', `/api/v1/people/detections/personId/${crypto.randomUUID()}`);
      assert.equal(unknown.status, 404);
    });
  });

  describe('permissions', () => {
    it("the contract and the demo users name only the guide's permissions", () => {
      const known = knownPermissions(emu.routes.routes);
      for (const invented of ['Read Notes', 'Mutate Notes', 'Mutate Addresses']) {
        assert.equal(known.has(invented), false, invented);
      }
      for (const user of emu.users.list()) {
        for (const name of user.permissions) assert.ok(known.has(name), `${user.username}: ${name}`);
      }
      assert.ok(emu.users.get('admin')?.permissions.has('Face Detection'));
    });

    it('notes and addresses need Mutate All Identity: no granular mutate exists for them', () => {
      const route = (id: string) => emu.routes.routes.find((r) => r.operationId === id);
      assert.deepEqual(route('upsertNote')?.permissions, ['Mutate All Identity']);
      assert.deepEqual(route('upsertAddress')?.permissions, ['Mutate All Identity']);
    });
  });
});
