/**
 * `npm start`: the emulator (HTTPS with a self-signed certificate, the real face engine, the demo
 * users) and Node-RED with this package, its examples and a demo flow whose config node points at
 * the emulator and trusts its certificate properly. Everything on loopback; Ctrl-C stops both.
 *
 * Demo state lives in .demo/ (git-ignored): the emulator's data survives restarts, and the flows
 * are written only when there are none, so edits made in the editor are kept.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { IdentitiesClient } from '../client/client';
import { startEmulator } from '../emulator/server';

const ROOT = path.join(__dirname, '..');
const DEMO = path.join(ROOT, '.demo');
const USER_DIR = path.join(DEMO, 'node-red');
const CA_FILE = path.join(DEMO, 'emulator-ca.pem');
const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const EMULATOR_PORT = Number(process.env.EMULATOR_PORT ?? 5009);
const NODE_RED_PORT = Number(process.env.NODE_RED_PORT ?? 1880);
const PACKAGE = 'node-red-contrib-econnect-identities';

/** The person the demo flow recognises: enrolled once from obama.jpg, found again in obama2.jpg. */
async function seed(client: IdentitiesClient): Promise<void> {
  if ((await client.checkImageReference('demo-obama')).exists) return;
  const { personId } = await client.faceEnroll({
    faceImage: readFileSync(path.join(FIXTURES, 'obama.jpg')),
    photoReferenceId: 'demo-obama',
  });
  await client.upsertAlias(personId, { firstName: 'Barack', lastName: 'Obama', title: 'President' });
  const vip =
    (await client.listTags()).find((tag) => tag.name === 'VIP') ?? (await client.createTag({ name: 'VIP' }));
  await client.upsertPersonTag(personId, { tagId: vip.tagId });
}

function demoFlows(emulatorUrl: string): { flows: object[]; credentials: object } {
  const tab = 'demo-tab';
  const flows = [
    { id: tab, type: 'tab', label: 'eConnect Identities demo' },
    {
      id: 'demo-comment',
      type: 'comment',
      z: tab,
      name: 'Click the inject button: a snapshot of the front door goes to the emulator',
      info: 'The emulator enrolled Barack Obama from obama.jpg at start; this flow publishes obama2.jpg, a different photo, and the debug sidebar shows the matched person with the VIP tag.',
      x: 330,
      y: 40,
      wires: [],
    },
    {
      id: 'demo-inject',
      type: 'inject',
      z: tab,
      name: 'camera snapshot',
      props: [],
      repeat: '',
      once: false,
      x: 150,
      y: 100,
      wires: [['demo-file']],
    },
    {
      id: 'demo-file',
      type: 'file in',
      z: tab,
      name: 'obama2.jpg',
      filename: path.join(FIXTURES, 'obama2.jpg'),
      filenameType: 'str',
      format: '',
      chunk: false,
      sendError: false,
      encoding: 'none',
      allProps: false,
      x: 330,
      y: 100,
      wires: [['demo-publish']],
    },
    {
      id: 'demo-publish',
      type: 'identities-publish',
      z: tab,
      name: '',
      server: 'demo-server',
      version: 1,
      mode: 'withResponse',
      split: 'all',
      separateOutputs: false,
      outputs: 1,
      image: 'payload',
      imageType: 'msg',
      detectorName: 'FrontDoorCam',
      detectorNameType: 'str',
      includePerson: 'true',
      includePersonType: 'bool',
      includeNames: 'true',
      includeNamesType: 'bool',
      includeTags: 'true',
      includeTagsType: 'bool',
      largestFaceOnly: 'true',
      largestFaceOnlyType: 'bool',
      x: 510,
      y: 100,
      wires: [['demo-debug']],
    },
    {
      id: 'demo-debug',
      type: 'debug',
      z: tab,
      name: 'matched person',
      active: true,
      tosidebar: true,
      console: false,
      complete: 'payload',
      targetType: 'msg',
      x: 700,
      y: 100,
      wires: [],
    },
    { id: 'demo-server', type: 'identities-config', name: 'emulator', baseUrl: emulatorUrl, tls: 'demo-tls' },
    {
      id: 'demo-tls',
      type: 'tls-config',
      name: 'emulator certificate',
      cert: '',
      key: '',
      ca: CA_FILE,
      certname: '',
      keyname: '',
      caname: '',
      servername: '',
      verifyservercert: true,
    },
  ];
  return { flows, credentials: { 'demo-server': { username: 'admin', password: 'admin' } } };
}

async function main(): Promise<void> {
  mkdirSync(USER_DIR, { recursive: true });
  const emulator = await startEmulator({
    port: EMULATOR_PORT,
    dataDir: path.join(DEMO, 'emulator-data'),
    log: (message) => console.error(`emulator: ${message}`),
  });
  writeFileSync(CA_FILE, emulator.ca ?? '');
  const client = new IdentitiesClient({
    baseUrl: emulator.url,
    username: 'admin',
    password: 'admin',
    tls: { ca: emulator.ca },
  });
  await seed(client);
  client.close();
  console.log(`emulator: listening on ${emulator.url} (demo users admin/admin, edge/edge, viewer/viewer)`);

  const link = path.join(USER_DIR, 'node_modules', PACKAGE);
  if (!existsSync(link)) {
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(ROOT, link, 'dir');
  }
  const flowFile = path.join(USER_DIR, 'flows.json');
  if (!existsSync(flowFile)) {
    const { flows, credentials } = demoFlows(emulator.url);
    writeFileSync(flowFile, JSON.stringify(flows, null, 2));
    writeFileSync(path.join(USER_DIR, 'flows_cred.json'), JSON.stringify(credentials, null, 2));
  }
  writeFileSync(
    path.join(USER_DIR, 'settings.js'),
    `module.exports = ${JSON.stringify(
      {
        uiHost: '127.0.0.1',
        uiPort: NODE_RED_PORT,
        flowFile: 'flows.json',
        // A local demo: credentials are kept unencrypted in .demo/, never in a real deployment.
        credentialSecret: false,
        editorTheme: { tours: false },
        diagnostics: { enabled: false },
        telemetry: { enabled: false },
      },
      null,
      2,
    )};\n`,
  );

  const nodeRed = spawn(
    process.execPath,
    [
      require.resolve('node-red/red.js'),
      '--userDir',
      USER_DIR,
      '--settings',
      path.join(USER_DIR, 'settings.js'),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  nodeRed.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (chunk.toString().includes('Started flows')) {
      console.log(
        `\nNode-RED editor: http://127.0.0.1:${NODE_RED_PORT}/  (open it, click the inject node of the demo flow)`,
      );
    }
  });
  const stop = () => {
    nodeRed.kill('SIGINT');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  nodeRed.once('exit', (code) => {
    emulator.close().finally(() => process.exit(code ?? 0));
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
