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

    const badRequests: [string, string, string, Record<string, string>, RegExp][] = [
      ['not JSON', '/api/v1/Tags', '{"name":', { 'Content-Type': 'application/json' }, /not valid JSON/],
      [
        'the wrong content type',
        '/api/v1/Tags',
        'name=x',
        { 'Content-Type': 'text/plain' },
        /expected Content-Type: application\/json/,
      ],
      [
        'a missing required property',
        '/api/v1/Tags',
        '{}',
        { 'Content-Type': 'application/json' },
        /body\.name is required/,
      ],
      [
        'a property of the wrong type',
        '/api/v1/Tags',
        '{"name":5}',
        { 'Content-Type': 'application/json' },
        /body\.name must be string/,
      ],
      [
        'invalid base64',
        '/api/v1/faces/faceDetect',
        '{"image":"@@@"}',
        { 'Content-Type': 'application/json' },
        /body\.image is not valid base64/,
      ],
      [
        'an empty face',
        '/api/v1/faces/faceEnroll',
        '{"faceImage":""}',
        { 'Content-Type': 'application/json' },
        /^Face bytes are empty$/,
      ],
      [
        'a non-multipart upload',
        '/api/v1/people/fileDocuments/upload',
        '{}',
        { 'Content-Type': 'application/json' },
        /expected a multipart/,
      ],
    ];
    for (const [what, route, body, headers, detail] of badRequests) {
      it(`refuses ${what} with 400 and says what was wrong`, async () => {
        const response = await raw(emu, 'POST', route, { body, headers });
        assert.equal(response.status, 400);
        assert.match(String(response.body?.detail), detail);
        assert.equal(
          emu.routes.validateResponse(
            route.includes('Tags') ? 'createTag' : 'faceDetect',
            400,
            response.body,
          ),
          undefined,
        );
      });
    }

    it('refuses a query parameter the contract forbids', async () => {
      const response = await raw(emu, 'GET', '/api/v1/people?take=0');
      assert.equal(response.status, 400);
      assert.match(String(response.body?.detail), /query\.take must be >= 1/);
    });

    it('refuses an undecodable image with 400 naming the field', async () => {
      const body = JSON.stringify({ image: Buffer.from('GIF89a-not-a-jpeg').toString('base64') });
      const response = await raw(emu, 'POST', '/api/v1/faces/faceDetect', {
        body,
        headers: { 'Content-Type': 'application/json' },
      });
      assert.equal(response.status, 400);
      assert.match(String(response.body?.detail), /image is not a decodable JPEG or PNG image/);
    });
  });

  it('keeps everything across a restart with a data directory', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'identities-'));
    try {
      const image = await face(10);
      let emu = await startEmulator({ https: false, engine: 'simple', dataDir });
      let client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
      const { personId } = await client.faceEnroll({ faceImage: image, photoReferenceId: 'ref-1' });
      const tag = await client.createTag({ name: 'VIP' });
      await client.upsertPersonTag(personId, { tagId: tag.tagId });
      await client.upsertAlias(personId, { firstName: 'Ada', lastName: 'Lovelace' });
      await client.uploadFileDocument({
        personId,
        name: 'ID',
        file: Buffer.from('%PDF-1.4'),
        fileName: 'id.pdf',
      });
      const published = await client.publishWithResponse({ expanded: image, detectorName: 'door' });
      client.close();
      await emu.close();

      emu = await startEmulator({ https: false, engine: 'simple', dataDir });
      client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
      const person = await client.getPerson(personId);
      assert.equal(person.friendlyName, 'Ada Lovelace');
      assert.deepEqual(
        person.personTags.map((t) => t.tag.name),
        ['VIP'],
      );
      const faceId = person.faces[0]?.faceId ?? '';
      assert.deepEqual((await client.getEnrollmentPhoto(faceId)).data, image);
      const doc = person.fileDocuments[0]?.publicId ?? '';
      assert.equal((await client.downloadFileDocument(personId, doc)).data.toString(), '%PDF-1.4');
      assert.equal((await client.checkImageReference('ref-1')).exists, true);
      const detectId = published.detectedFaces[0]?.detectId ?? '';
      assert.deepEqual((await client.getDetectionPhoto(faceId, detectId)).data, image);
      assert.equal((await client.recognize({ croppedAligned: image }))?.personId, personId);
      client.close();
      await emu.close();
    } finally {
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
