/**
 * The package as a user gets it. `npm pack` runs on a copy of the working tree as a fresh clone has
 * it (no dist/: the prepare script builds it); the tarball is installed with production dependencies
 * only into a new Node-RED user directory, far from this repository's node_modules; a real Node-RED
 * (the devDependency's red.js, a child process on loopback) loads it; and a flow of its nodes runs
 * against the emulator: an HTTP endpoint that publishes the image posted to it and answers with the
 * result.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startEmulator, type Emulator } from '../../emulator/server';
import {
  DEMO_IDS,
  demoFlows,
  FIXTURES,
  freePort,
  NODE_TYPES,
  PACKAGE,
  PUBLISH_SETTINGS,
  ROOT,
  seedDemo,
  spawnNodeRed,
  stopProcess,
  waitForNodeRed,
  writeFlows,
} from '../../scripts/runtime';

const run = promisify(execFile);
const MANIFEST = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  main: string;
  types: string;
  files: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  'node-red': { nodes: Record<string, string> };
};

/**
 * The environment for the npm commands run here, without the npm_* variables of an `npm test`
 * around this run (its prefix among them), which would point them back at this repository.
 */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
}

async function npm(cwd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('npm', args, {
      cwd,
      env: npmEnv(),
      maxBuffer: 64 * 1024 * 1024,
      timeout: 240_000,
    });
    return stdout;
  } catch (err) {
    const { stderr, stdout } = err as { stderr?: string; stdout?: string };
    throw new Error(`npm ${args.join(' ')} in ${cwd} failed:\n${stdout ?? ''}\n${stderr ?? ''}`, {
      cause: err,
    });
  }
}

/**
 * The files a fresh clone of the working tree would have (tracked, or new and not ignored, as they
 * are now), copied to `dest`, with a link to this repository's node_modules for the build.
 */
async function copyAsFreshClone(dest: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  for (const file of new Set(stdout.split('\0'))) {
    // Deleted but still in the index; node_modules when it is itself a link (a git worktree's).
    if (!file || file === 'node_modules' || !lstatSync(path.join(ROOT, file), { throwIfNoEntry: false }))
      continue;
    mkdirSync(path.dirname(path.join(dest, file)), { recursive: true });
    cpSync(path.join(ROOT, file), path.join(dest, file), { verbatimSymlinks: true });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dest, 'node_modules'), 'dir');
}

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string }[];
}

interface NodeSetInfo {
  module: string;
  version?: string;
  types: string[];
  enabled: boolean;
  err?: string;
}

interface Reply {
  status: number;
  body: string;
}

/** One HTTP request to Node-RED on loopback. */
function request(
  url: string,
  {
    method = 'GET',
    headers = {},
    body,
  }: { method?: string; headers?: Record<string, string>; body?: Buffer },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * What a user might build: an HTTP endpoint that publishes the image posted to it and answers with
 * the result, or with the error a Catch node got.
 */
function identifyFlow(emulatorUrl: string, caFile: string): { flows: object[]; credentials: object } {
  const tab = 'pack-tab';
  const demo = demoFlows(emulatorUrl, caFile);
  const flows = [
    { id: tab, type: 'tab', label: 'identify' },
    {
      id: 'pack-in',
      type: 'http in',
      z: tab,
      url: '/identify',
      method: 'post',
      upload: false,
      swaggerDoc: '',
      wires: [['pack-publish']],
    },
    {
      id: 'pack-publish',
      z: tab,
      name: '',
      server: DEMO_IDS.server,
      ...PUBLISH_SETTINGS,
      detectorName: 'PackageCam',
      wires: [['pack-out']],
    },
    { id: 'pack-out', type: 'http response', z: tab, statusCode: '', headers: {}, wires: [] },
    // A failure answers the request too, with the message a Catch node gets.
    { id: 'pack-catch', type: 'catch', z: tab, scope: null, uncaught: false, wires: [['pack-error']] },
    {
      id: 'pack-error',
      type: 'change',
      z: tab,
      rules: [
        { t: 'set', p: 'payload', pt: 'msg', to: 'error.message', tot: 'msg' },
        { t: 'set', p: 'statusCode', pt: 'msg', to: '500', tot: 'num' },
      ],
      wires: [['pack-out']],
    },
    // The demo flow's config node (the emulator, its CA trusted) and its tls-config.
    ...demo.flows.filter((node) => {
      const { id } = node as { id: string };
      return id === DEMO_IDS.server || id === DEMO_IDS.tls;
    }),
  ];
  return { flows, credentials: demo.credentials };
}

describe('the npm package, installed from its tarball into Node-RED', function () {
  // Building, installing and starting take what they take: no test here measures time.
  this.timeout(120_000);

  let work: string;
  let pack: PackResult;
  let userDir: string;
  let emulator: Emulator | undefined;
  let nodeRed: ChildProcess | undefined;
  let url: string;
  /** Node-RED's output, shown when something fails. */
  let runtimeLog = '';

  before(async function () {
    this.timeout(600_000);
    work = mkdtempSync(path.join(tmpdir(), 'identities-pack-'));
    const clone = path.join(work, 'clone');
    await copyAsFreshClone(clone);
    // npm prints the JSON on stdout, the prepare script's output on stderr.
    [pack] = JSON.parse(await npm(clone, ['pack', '--json', '--pack-destination', work])) as PackResult[];
    console.log(
      `      (${pack.filename}: ${(pack.size / 1000).toFixed(1)} kB, ${pack.entryCount} files, ` +
        `${(pack.unpackedSize / 1000).toFixed(1)} kB unpacked)`,
    );

    // A user directory as Node-RED makes one: its own package.json, then `npm install <tarball>`.
    userDir = path.join(work, 'node-red');
    mkdirSync(userDir);
    writeFileSync(
      path.join(userDir, 'package.json'),
      JSON.stringify({ name: 'node-red-project', version: '0.0.1', private: true }),
    );
    await npm(userDir, [
      'install',
      '--omit=dev',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      path.join(work, pack.filename),
    ]);

    emulator = await startEmulator({ port: 0, engine: 'faceapi', log: () => undefined });
    await seedDemo(emulator);
    const caFile = path.join(userDir, 'emulator-ca.pem');
    writeFileSync(caFile, emulator.ca ?? '');
    // The flow is in place before Node-RED starts, which opens its port once the flows have started.
    const { flows, credentials } = identifyFlow(emulator.url, caFile);
    writeFlows(userDir, flows, credentials);

    const port = await freePort();
    writeFileSync(
      path.join(userDir, 'settings.js'),
      `module.exports = ${JSON.stringify({
        uiHost: '127.0.0.1',
        uiPort: port,
        httpNodeRoot: '/api',
        flowFile: 'flows.json',
        // flows_cred.json as writeFlows wrote it: plain.
        credentialSecret: false,
        logging: { console: { level: 'warn', metrics: false, audit: false } },
        editorTheme: { tours: false, palette: { catalogues: [] } },
        diagnostics: { enabled: false },
        telemetry: { enabled: false },
      })};\n`,
    );
    nodeRed = spawnNodeRed(userDir, 'pipe');
    nodeRed.stdout?.on('data', (chunk: Buffer) => (runtimeLog += chunk.toString()));
    nodeRed.stderr?.on('data', (chunk: Buffer) => (runtimeLog += chunk.toString()));
    url = `http://127.0.0.1:${port}/`;
    await waitForNodeRed(url, nodeRed, 120_000);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && runtimeLog) console.error(`Node-RED said:\n${runtimeLog}`);
  });

  after(async function () {
    this.timeout(60_000);
    if (nodeRed) await stopProcess(nodeRed);
    await emulator?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the built nodes, the client with its types, the examples and nothing else', function () {
    const files = pack.files.map((file) => file.path).sort();
    const expected = [
      MANIFEST.main,
      MANIFEST.types,
      ...Object.values(MANIFEST['node-red'].nodes).flatMap((js) => [js, js.replace(/\.js$/, '.html')]),
      ...NODE_TYPES.flatMap((type) =>
        ['en-US', 'de'].map((language) => `dist/nodes/locales/${language}/${type}.json`),
      ),
      'dist/nodes/icons/identities-publish.svg',
      'README.md',
      'LICENSE',
      'package.json',
    ];
    for (const file of expected) assert.ok(files.includes(file), `${file} is missing`);
    // Every example of the repository, and nothing else under examples/.
    assert.deepEqual(
      files.filter((file) => file.startsWith('examples/')).sort(),
      readdirSync(path.join(ROOT, 'examples'))
        .map((name) => `examples/${name}`)
        .sort(),
    );
    // What package.json's "files" lets in (npm adds package.json), less the sources, the emulator,
    // tests, bench and scripts, source maps, and the nodes' declarations, whatever "files" says.
    const included = [...MANIFEST.files.filter((entry) => !entry.startsWith('!')), 'package.json'];
    const unwanted = files.filter(
      (file) =>
        !included.some((entry) => (entry.endsWith('/') ? file.startsWith(entry) : file === entry)) ||
        /^(client|nodes|openapi)\/|(^|\/)(emulator|test|bench|scripts|fixtures)\//.test(file) ||
        file.endsWith('.map') ||
        (file.endsWith('.ts') && !file.endsWith('.d.ts')) ||
        (file.startsWith('dist/nodes/') && file.endsWith('.d.ts')),
    );
    assert.deepEqual(unwanted, [], 'no sources, maps, emulator, tests, bench or scripts');
    assert.ok(pack.unpackedSize < 2_000_000, `${pack.unpackedSize} bytes unpacked`);
  });

  it('installs with its runtime dependencies only, as a copy, not a link', function () {
    const installed = path.join(userDir, 'node_modules', PACKAGE);
    assert.ok(lstatSync(installed).isDirectory(), `${installed} is a directory, not a link`);
    assert.deepEqual(Object.keys(MANIFEST.dependencies), ['form-data']);
    for (const name of Object.keys(MANIFEST.dependencies))
      assert.ok(lstatSync(path.join(userDir, 'node_modules', name), { throwIfNoEntry: false }), `${name}`);
    for (const name of Object.keys(MANIFEST.devDependencies))
      assert.equal(lstatSync(path.join(userDir, 'node_modules', name), { throwIfNoEntry: false }), undefined);
  });

  it('installs the server check as a command that runs from the package alone', async function () {
    const command = path.join(userDir, 'node_modules', '.bin', 'econnect-identities-check-server');
    // No URL: the usage text and exit status 2, without reaching any server.
    await assert.rejects(
      run(command, [], { env: { PATH: process.env.PATH } }),
      (err: { code?: number; stderr?: string }) => {
        assert.equal(err.code, 2);
        assert.match(String(err.stderr), /^usage: npx econnect-identities-check-server URL/);
        return true;
      },
    );
  });

  it('loads all nine node types in Node-RED with no error', async function () {
    const reply = await request(`${url}nodes`, { headers: { Accept: 'application/json' } });
    assert.equal(reply.status, 200);
    const sets = (JSON.parse(reply.body) as NodeSetInfo[]).filter((set) => set.module === PACKAGE);
    assert.deepEqual(sets.flatMap((set) => set.types).sort(), Object.keys(MANIFEST['node-red'].nodes).sort());
    for (const set of sets) {
      assert.equal(set.err, undefined, `${set.types.join()}: ${set.err}`);
      assert.equal(set.enabled, true);
      assert.equal(set.version, MANIFEST.version);
    }
    const html = (await request(`${url}nodes`, { headers: { Accept: 'text/html' } })).body;
    for (const type of NODE_TYPES)
      assert.ok(html.includes(`data-template-name="${type}"`), `${type}: no dialog`);
    const icon = await request(`${url}icons/${PACKAGE}/identities-publish.svg`, {});
    assert.equal(icon.status, 200);
    // The editor's shared code, if the package has any: Node-RED serves it at resources/<module>/.
    for (const file of pack.files.filter(({ path: shipped }) => shipped.startsWith('resources/'))) {
      const served = await request(`${url}${file.path.replace(/^resources\//, `resources/${PACKAGE}/`)}`, {});
      assert.equal(served.status, 200, file.path);
    }
  });

  it('runs a flow: an image posted to an HTTP endpoint is published to the emulator, the match answered', async function () {
    // obama2.jpg, another photo than the one enrolled from obama.jpg (seedDemo).
    const reply = await request(`${url}api/identify`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/jpeg' },
      body: readFileSync(path.join(FIXTURES, 'obama2.jpg')),
    });
    assert.equal(reply.status, 200, reply.body);
    const { detectedFaces } = JSON.parse(reply.body) as { detectedFaces: { person?: object | null }[] };
    assert.equal(detectedFaces.length, 1, reply.body);
    const person = JSON.stringify(detectedFaces[0]!.person ?? null);
    assert.match(person, /Obama/);
    assert.match(person, /VIP/);

    // Not an image: the node's error reaches the Catch node.
    const refused = await request(`${url}api/identify`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.from('plain text, no image'),
    });
    assert.equal(refused.status, 500, refused.body);
    assert.match(refused.body, /JPEG/);
  });
});
