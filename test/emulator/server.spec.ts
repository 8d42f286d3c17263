import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { IdentitiesClient } from '../../client/client';
import { ApiError } from '../../client/errors';
import { startEmulator, type Emulator } from '../../emulator/server';

const face = (r: number) =>
  sharp({ create: { width: 64, height: 64, channels: 3, background: { r, g: 40, b: 90 } } })
    .jpeg()
    .toBuffer();

async function raw(
  emu: Emulator,
  method: string,
  route: string,
  init: { body?: string; headers?: Record<string, string>; token?: boolean } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== false) {
    const login = await fetch(`${emu.url}/api/v1/authenticate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'admin' }),
    });
    headers.Authorization = `Bearer ${((await login.json()) as { token: string }).token}`;
  }
  const response = await fetch(`${emu.url}${route}`, { method, headers, body: init.body });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}

describe('emulator', () => {
  describe('over HTTP', () => {
    let emu: Emulator;
    before(async () => {
      emu = await startEmulator({ https: false, engine: 'simple' });
    });
    after(() => emu.close());

    it('binds to loopback by default', () => {
      assert.match(emu.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    });

    it('answers an unknown path with 404 and a known path with another method with 405', async () => {
      assert.equal((await raw(emu, 'GET', '/api/v1/nothing')).status, 404);
      const wrongMethod = await raw(emu, 'PATCH', '/api/v1/Tags');
      assert.equal(wrongMethod.status, 405);
      assert.match(String(wrongMethod.body?.detail), /PATCH \/api\/v1\/Tags is not an endpoint/);
    });

    it('routes without regard to case, like ASP.NET Core', async () => {
      assert.equal((await raw(emu, 'GET', '/api/v1/tags')).status, 200);
    });

    it('asks for a bearer token with 401 and names the missing permission with 403', async () => {
      const missing = await raw(emu, 'GET', '/api/v1/Tags', { token: false });
      assert.equal(missing.status, 401);
      assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
      const bad = await raw(emu, 'GET', '/api/v1/Tags', {
        token: false,
        headers: { Authorization: 'Bearer x.y.z' },
      });
      assert.equal(bad.status, 401);
      const edge = new IdentitiesClient({ baseUrl: emu.url, username: 'edge', password: 'edge' });
      await assert.rejects(edge.listTags(), (err: unknown) => {
        assert.ok(err instanceof ApiError && err.status === 403);
        assert.match(err.message, /needs one of Read Tags/);
        return true;
      });
      edge.close();
    });

    const json = { 'Content-Type': 'application/json' };
    const badRequests: [string, string, string, Record<string, string>, RegExp][] = [
      ['not JSON', '/api/v1/Tags', '{"tagName":', json, /not valid JSON/],
      [
        'the wrong content type',
        '/api/v1/Tags',
        'tagName=x',
        { 'Content-Type': 'text/plain' },
        /expected Content-Type: application\/json/,
      ],
      ['a missing required property', '/api/v1/Tags', '{}', json, /body\.tagName is required/],
      ['a property of the wrong type', '/api/v1/Tags', '{"tagName":5}', json, /body\.tagName must be string/],
      [
        'invalid base64',
        '/api/v1/faces/faceDetect',
        '{"image":"@@@"}',
        json,
        /body\.image is not valid base64/,
      ],
      [
        'an empty published face ("Face bytes are empty", as the guide has it)',
        '/api/v1/faceEdge/publishWithResponse',
        JSON.stringify({
          expanded: '',
          detectorName: 'd',
          ianaTimeZone: 'UTC',
          detectTimeUtc: '2026-01-01T00:00:00Z',
        }),
        json,
        /^Face bytes are empty$/,
      ],
      [
        'an undecodable published image',
        '/api/v1/faceEdge/publishWithResponse',
        JSON.stringify({
          expanded: Buffer.from('GIF89a-not-a-jpeg').toString('base64'),
          detectorName: 'd',
          ianaTimeZone: 'UTC',
          detectTimeUtc: '2026-01-01T00:00:00Z',
        }),
        json,
        /^expanded is not a decodable JPEG or PNG image$/,
      ],
      ['a non-multipart upload', '/api/v1/people/fileDocuments/upload', '{}', json, /expected a multipart/],
    ];
    for (const [what, route, body, headers, detail] of badRequests) {
      it(`refuses ${what} with 400 and says what was wrong`, async () => {
        const response = await raw(emu, 'POST', route, { body, headers });
        assert.equal(response.status, 400);
        assert.match(String(response.body?.detail), detail);
      });
    }

    it('refuses a query parameter the contract forbids', async () => {
      const response = await raw(emu, 'GET', '/api/v1/people/detections/faceId/f?take=0');
      assert.equal(response.status, 400);
      assert.match(String(response.body?.detail), /query\.take must be >= 1/);
    });

    // The Face Recognition page answers a refused image with 500 and lists no 400.
    const rejectedImages: [string, string, Record<string, unknown>, RegExp][] = [
      [
        'an undecodable image',
        '/api/v1/faces/faceDetect',
        { image: Buffer.from('GIF89a-not-a-jpeg').toString('base64') },
        /^Image rejected: image is not a decodable JPEG or PNG image$/,
      ],
      ['an empty image', '/api/v1/faces/faceDetect', { image: '' }, /^Image bytes are empty$/],
      ['an empty face to enroll', '/api/v1/faces/faceEnroll', { faceImage: '' }, /^Face bytes are empty$/],
      [
        'a face-less image to compare',
        '/api/v1/faces/faceCompare',
        // One face-less image only: with two, either may be found out first.
        { image1: 'FACE', image2: 'SMALL' },
        /^Image rejected: image2 has no face$/,
      ],
    ];
    for (const [what, route, body, detail] of rejectedImages) {
      it(`rejects ${what} on faces/* with 500, as the guide says`, async () => {
        // Smaller than a face can be: the simple engine finds none in it.
        const small = (
          await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
            .jpeg()
            .toBuffer()
        ).toString('base64');
        const sent = JSON.stringify(body)
          .replaceAll('SMALL', small)
          .replaceAll('FACE', (await face(20)).toString('base64'));
        const response = await raw(emu, 'POST', route, { body: sent, headers: json });
        assert.equal(response.status, 500);
        assert.match(String(response.body?.detail), detail);
        const operation = route.split('/').pop() ?? '';
        assert.equal(emu.routes.validateResponse(operation, 500, response.body), undefined);
      });
    }

    it('still answers a faces/* request without its required image with 400', async () => {
      const response = await raw(emu, 'POST', '/api/v1/faces/faceDetect', { body: '{}', headers: json });
      assert.equal(response.status, 400);
      assert.match(String(response.body?.detail), /Image bytes are empty|body\.image is required/);
    });
  });

  it('keeps everything across a restart with a data directory', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'identities-'));
    try {
      const image = await face(10);
      let emu = await startEmulator({ https: false, engine: 'simple', dataDir });
      let client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
      const { personId } = await client.faceEnroll({ faceImage: image, photoReferenceId: 'ref-1' });
      const tag = await client.createTag({ tagName: 'VIP', defaultExpirePeriod: '30.00:00:00' });
      const applied = await client.upsertPersonTag(personId, { tagId: tag.tagId ?? '' });
      await client.upsertAlias(personId, { firstName: 'Ada', lastName: 'Lovelace' });
      await client.upsertNote(personId, { summary: 'VIP', body: 'Window seat' });
      const { publicId } = await client.uploadFileDocument({
        personId,
        name: 'ID',
        file: Buffer.from('%PDF-1.4'),
        fileName: 'id.pdf',
      });
      const published = await client.publishWithResponse({ expanded: image, detectorName: 'door' });
      const before = await client.getPerson(personId);
      client.close();
      await emu.close();

      emu = await startEmulator({ https: false, engine: 'simple', dataDir });
      client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
      const person = await client.getPerson(personId);
      assert.deepEqual(person, before);
      assert.equal(person.aliases?.[0]?.firstName, 'Ada');
      assert.equal(person.tags?.[0]?.expires, applied.expires);
      assert.deepEqual(
        (await client.listTags()).map((t) => t.defaultExpirePeriod),
        ['30.00:00:00'],
      );
      const [detected] = published.detectedFaces;
      assert.deepEqual((await client.getEnrollmentPhoto(detected?.faceId ?? '')).data, image);
      assert.equal((await client.downloadFileDocument(personId, publicId)).data.toString(), '%PDF-1.4');
      assert.equal((await client.checkImageReference('ref-1')).exists, true);
      assert.deepEqual(
        (await client.getDetectionPhoto(detected?.faceId ?? '', detected?.detectId ?? '')).data,
        image,
      );
      assert.equal(
        (await client.recognize({ croppedAligned: image, detectorName: 'door' }))?.personId,
        personId,
      );
      client.close();
      await emu.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('reads a data directory written before the guide names (state.json without a version)', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'identities-'));
    const personId = '0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d';
    const tagId = '4c5d6e7f-8091-2345-6789-abcdef012345';
    writeFileSync(
      path.join(dataDir, 'state.json'),
      JSON.stringify({
        people: [
          {
            personId,
            created: '2026-01-01T00:00:00.000Z',
            aliases: [
              {
                aliasId: '1f2e3d4c-5b6a-7980-1234-56789abcdef0',
                firstName: 'Jane',
                lastName: 'Doe',
                middleName: null,
                title: null,
              },
            ],
            addresses: [
              {
                addressId: '2a3b4c5d-6e7f-8091-2345-6789abcdef01',
                addressType: 'Home',
                line1: '123 Main St',
                line2: null,
                city: 'Las Vegas',
                state: 'NV',
                postalCode: '89101',
                country: 'USA',
              },
            ],
            personTags: [{ tagId, created: '2026-01-15T12:00:00.000Z', expires: null }],
            entityFields: [
              {
                name: 'LoyaltyTier',
                stringValue: 'Gold',
                dateValue: null,
                numberValue: null,
                boolValue: null,
              },
            ],
            notes: [
              {
                noteId: '5d6e7f80-9123-4567-89ab-cdef01234567',
                text: 'Prefers window seating',
                created: '2026-01-01T00:00:00.000Z',
                modified: null,
              },
            ],
            documents: [],
          },
        ],
        tags: [{ tagId, name: 'VIP', description: null, defaultExpiryDays: 30 }],
        faces: [],
        detections: [],
        fieldSettings: [],
      }),
    );
    const emu = await startEmulator({ https: false, engine: 'simple', dataDir });
    const client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
    try {
      const person = await client.getPerson(personId);
      assert.equal(emu.routes.validateResponse('getPerson', 200, person), undefined);
      assert.equal(person.aliases?.[0]?.personAliasId, '1f2e3d4c-5b6a-7980-1234-56789abcdef0');
      assert.equal(person.addresses?.[0]?.street, '123 Main St');
      assert.deepEqual(person.tags, [{ tagId, expires: null, created: '2026-01-15T12:00:00.000Z' }]);
      assert.equal(person.notes?.[0]?.body, 'Prefers window seating');
      assert.deepEqual(await client.listTags(), [
        { tagId, tagName: 'VIP', disabled: false, description: null, defaultExpirePeriod: '30.00:00:00' },
      ]);
    } finally {
      client.close();
      await emu.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('serves under a path prefix like the cloud, which the client keeps (with or without a trailing slash)', async () => {
    const emu = await startEmulator({ https: false, engine: 'simple', basePath: '/identities' });
    try {
      assert.match(emu.url, /\/identities$/);
      for (const baseUrl of [emu.url, `${emu.url}/`]) {
        const client = new IdentitiesClient({ baseUrl, username: 'admin', password: 'admin' });
        assert.deepEqual(await client.listTags(), []);
        client.close();
      }
      const outside = await fetch(emu.url.replace(/\/identities$/, '/api/v1/Tags'));
      assert.equal(outside.status, 404);
    } finally {
      await emu.close();
    }
  });

  it('serves HTTPS with a certificate the client verifies against the emulator CA', async () => {
    const emu = await startEmulator({ engine: 'simple' });
    try {
      assert.match(emu.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const trusting = new IdentitiesClient({
        baseUrl: emu.url,
        username: 'admin',
        password: 'admin',
        tls: { ca: emu.ca },
      });
      assert.deepEqual(await trusting.listTags(), []);
      trusting.close();
      const untrusting = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
      await assert.rejects(
        untrusting.listTags(),
        (err: unknown) => err instanceof ApiError && err.code === 'TLS',
      );
      untrusting.close();
    } finally {
      await emu.close();
    }
  });

  it('refuses a users file with a permission the API does not have', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'identities-'));
    const file = path.join(dir, 'users.json');
    writeFileSync(file, JSON.stringify({ roles: { R: { permissions: ['Face Publsihing'] } }, users: [] }));
    try {
      await assert.rejects(
        startEmulator({ https: false, engine: 'simple', usersFile: file }),
        /role R has an unknown permission "Face Publsihing"/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('`npm run emulator` starts HTTPS on loopback and prints the URL and the demo users', async () => {
    const child = spawn('npm', ['run', 'emulator', '--', '--port', '0', '--token-lifetime', '60'], {
      cwd: path.join(__dirname, '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so that npm, tsx and the emulator under them all stop together.
      detached: true,
    });
    try {
      let output = '';
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (/viewer\/viewer/.test(output)) resolve();
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
      });
      assert.match(output, /listening on https:\/\/127\.0\.0\.1:\d+/);
      assert.match(output, /admin\/admin/);
      assert.match(output, /edge\/edge/);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(-(child.pid ?? 0), 'SIGTERM');
      await exited;
    }
  });
});
