/**
 * `npm run check-server`, run as a user runs it (a child process, credentials in its environment):
 * against the emulator its report is clean; against a server answering in an older shape (the
 * emulator behind a proxy that renames fields) it names each difference; and it never takes
 * credentials from the command line nor prints a secret.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { IdentitiesClient } from '../../client/client';
import { startEmulator, type Emulator } from '../../emulator/server';

const ROOT = path.join(__dirname, '..', '..');
/** A password no report may hold; an administrator's, so that every read is allowed. */
const USERNAME = 'checker';
const PASSWORD = 'Check-Sentinel-pw-7731';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function checkServer(args: string[], env: Record<string, string | undefined>): Promise<Run> {
  const childEnv = { ...process.env, IDENTITIES_USERNAME: undefined, IDENTITIES_PASSWORD: undefined, ...env };
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'client', 'check-server.ts'), ...args],
      { cwd: ROOT, env: childEnv, timeout: 60_000 },
      (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
    // Not a terminal: the script cannot prompt, and must say so rather than wait.
    child.stdin?.end();
  });
}

const asChecker = { IDENTITIES_USERNAME: USERNAME, IDENTITIES_PASSWORD: PASSWORD };

/** The older shape: tags with `name`, persons with `personTags`, detections with `detectorName`. */
const RENAMES: [RegExp, Record<string, string>][] = [
  [/^\/api\/v1\/Tags/, { tagName: 'name' }],
  [/^\/api\/v1\/people\/detections\//, { detector: 'detectorName' }],
  [/^\/api\/v1\/people(\/|\?|$)/, { tags: 'personTags' }],
];

/** The answer's records (itself, or each item of an array) with their own fields renamed. */
function renamed(value: unknown, names: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => renamed(item, names));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [names[key] ?? key, inner]));
}

/** Forwards to `target`, renaming fields of the records (not of what they hold) in JSON answers. */
async function olderShapeProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      fetch(`${target}${req.url}`, {
        method: req.method,
        headers: req.headers as Record<string, string>,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      }).then(
        async (answer) => {
          let body = Buffer.from(await answer.arrayBuffer());
          const names = RENAMES.find(([route]) => route.test(req.url ?? ''))?.[1];
          if (names && answer.headers.get('content-type')?.includes('json') && body.length > 0) {
            body = Buffer.from(JSON.stringify(renamed(JSON.parse(body.toString()), names)));
          }
          res
            .writeHead(answer.status, { 'Content-Type': answer.headers.get('content-type') ?? '' })
            .end(body);
        },
        () => res.writeHead(502).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('npm run check-server', function () {
  this.timeout(120_000);
  let emu: Emulator;
  let dir: string;

  before(async function () {
    dir = mkdtempSync(path.join(tmpdir(), 'check-server-spec-'));
    const usersFile = path.join(dir, 'users.json');
    const users = [{ username: USERNAME, password: PASSWORD, roles: ['Administrator'] }];
    writeFileSync(usersFile, JSON.stringify({ roles: { Administrator: { permissions: 'all' } }, users }));
    emu = await startEmulator({ port: 0, https: false, engine: 'simple', usersFile });
    // A person with a tag, an alias, a note, a text field and a detection: every read has an answer.
    const admin = new IdentitiesClient({ baseUrl: emu.url, username: USERNAME, password: PASSWORD });
    try {
      const image = await sharp({
        create: { width: 64, height: 64, channels: 3, background: { r: 40, g: 90, b: 160 } },
      })
        .jpeg()
        .toBuffer();
      const { tagId } = await admin.createTag({ tagName: 'Check', defaultExpirePeriod: '00:00:00' });
      const { personId } = await admin.faceEnroll({ faceImage: image });
      await admin.upsertPersonTag(personId, { tagId: tagId! });
      await admin.upsertAlias(personId, { firstName: 'Ada', lastName: 'Lovelace' });
      await admin.upsertNote(personId, { summary: 'Seen', body: 'At the door' });
      await admin.upsertEntityField(personId, { name: 'Tier', stringValue: 'Gold' });
      await admin.publishWithResponse({ expanded: image, detectorName: 'door' });
    } finally {
      admin.close();
    }
  });

  after(async function () {
    await emu?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('against the emulator: every read-only operation succeeds, the report is clean and holds no secret', async function () {
    const before = { ...emu.counts };
    const run = await checkServer([emu.url], asChecker);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const reads = [
      'authenticate',
      'renewToken',
      'getUserProfile',
      'listTags',
      'getTag',
      'queryPeople',
      'getPerson',
      'getAliases',
      'getPersonTags',
      'getNotes',
      'getEntityFields',
      'queryPeopleByEntityField',
      'getDetectionsByPerson',
      'checkImageReference',
    ];
    for (const operation of reads) {
      assert.match(run.stdout, new RegExp(`^  ${operation} +ok`, 'm'), operation);
    }
    assert.match(run.stdout, /^Differences from the contract: none$/m);
    assert.match(run.stdout, /^Result: clean/m);
    assert.doesNotMatch(run.stdout, /skipped|failed/);
    const called = Object.keys(emu.counts).filter((operation) => emu.counts[operation] !== before[operation]);
    assert.deepEqual(called.sort(), [...reads].sort(), 'the operations that reached the server');
    assert.ok(!(run.stdout + run.stderr).includes(PASSWORD), 'the password in the output');
    assert.doesNotMatch(run.stdout + run.stderr, /eyJ[\w-]+\.[\w-]+/, 'a token in the output');
  });

  it('against a server in an older shape: names each difference, and exits 1', async function () {
    const proxy = await olderShapeProxy(emu.url);
    try {
      const run = await checkServer([proxy.url], asChecker);
      assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
      const differences = run.stdout
        .slice(run.stdout.indexOf('Differences from the contract'))
        .split('\n')
        .filter((line) => line.startsWith('  '))
        .map((line) => line.trim());
      assert.deepEqual(differences, [
        'listTags [].name: a field the contract lacks; server: string',
        'listTags [].tagName: a required field is missing; contract: string',
        'getTag name: a field the contract lacks; server: string',
        'getTag tagName: a required field is missing; contract: string',
        'queryPeople [].personTags: a field the contract lacks; server: array',
        'getPerson personTags: a field the contract lacks; server: array',
        'queryPeopleByEntityField [].personTags: a field the contract lacks; server: array',
        'getDetectionsByPerson [].detectorName: a field the contract lacks; server: string',
        'getDetectionsByPerson [].detector: a required field is missing; contract: string or null',
      ]);
      assert.match(run.stdout, /^Result: differences found/m);
    } finally {
      await proxy.close();
    }
  });

  it('a wrong password: authenticate failed, nothing else called, exit 1', async function () {
    const run = await checkServer([emu.url], {
      IDENTITIES_USERNAME: USERNAME,
      IDENTITIES_PASSWORD: 'wrong-pw',
    });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^ {2}authenticate +failed +AUTH_FAILED: wrong username or password/m);
    assert.match(run.stdout, /everything else +skipped +no login/);
    assert.ok(!(run.stdout + run.stderr).includes('wrong-pw'), 'the password in the output');
  });

  it('takes no credentials from the command line, and cannot prompt without a terminal', async function () {
    const flag = await checkServer([emu.url, '--password', 'secret'], asChecker);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Unknown option '--password'/);
    assert.match(flag.stderr, /never from the command line/);
    const noTerminal = await checkServer([emu.url], {});
    assert.equal(noTerminal.code, 2);
    assert.match(noTerminal.stderr, /no terminal to ask for the username: set IDENTITIES_USERNAME/);
  });
});
