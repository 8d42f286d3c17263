/**
 * Starting the emulator and a real Node-RED with this package, shared by `npm start`
 * (scripts/start.ts), the example generator (scripts/examples.ts) and the editor tests
 * (test/e2e/): they must run the package the same way a user's Node-RED does, from a user
 * directory whose node_modules links to this repository.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { IdentitiesClient } from '../client/client';
import type { Emulator } from '../emulator/server';
import { nodeDefaults } from '../nodes/lib/defaults';
import type {
  EmulatorProcessOptions,
  EmulatorReply,
  EmulatorRequest,
  EmulatorStats,
} from './emulator-process';

export const ROOT = path.join(__dirname, '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
export const PACKAGE = 'node-red-contrib-econnect-identities';

/**
 * The node modules that examples 10 and 11 and the demo use besides ours (devDependencies of this
 * repository, linked into a user directory as `npm install` in it would install them).
 */
export const EXTRA_MODULES = [
  'node-red-node-annotate-image',
  'node-red-contrib-image-output',
  '@flowfuse/node-red-dashboard',
] as const;

/** Modules that those examples' function nodes load (their Setup tab): jpeg-js turns photos upright. */
export const FUNCTION_MODULES = ['jpeg-js'] as const;

/** The node types this package declares (package.json's node-red.nodes): the one list of them. */
export const NODE_TYPES: readonly string[] = Object.keys(
  (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { 'node-red': { nodes: object } })[
    'node-red'
  ].nodes,
);

/** The ids of the demo flow's nodes that the editor tests click or read. */
export const DEMO_IDS = {
  tab: 'demo-tab',
  inject: 'demo-inject',
  publish: 'demo-publish',
  debug: 'demo-debug',
  server: 'demo-server',
  tls: 'demo-tls',
} as const;

/**
 * The demo's records, in the vendor guide's shapes: Barack Obama, enrolled once from obama.jpg and
 * found again in obama2.jpg by the demo flow, with an alias, an address, an entity field and a note
 * like those of the guide's Get Identity answer, and the tag VIP. VIP never expires
 * (defaultExpirePeriod 00:00:00): the demo's data lives on in .demo/, and the flow must still show
 * the tag months later.
 */
export async function seedDemo(emulator: Emulator): Promise<void> {
  const client = new IdentitiesClient({
    baseUrl: emulator.url,
    username: 'admin',
    password: 'admin',
    tls: { ca: emulator.ca },
  });
  try {
    await seedRecords(client);
  } finally {
    client.close();
  }
}

async function seedRecords(client: IdentitiesClient): Promise<void> {
  if ((await client.checkImageReference('demo-obama')).exists) return;
  const { personId } = await client.faceEnroll({
    faceImage: readFileSync(path.join(FIXTURES, 'obama.jpg')),
    photoReferenceId: 'demo-obama',
  });
  await client.upsertAlias(personId, { firstName: 'Barack', lastName: 'Obama', title: 'President' });
  await client.upsertAddress(personId, {
    street: '1600 Pennsylvania Avenue NW',
    city: 'Washington',
    state: 'DC',
    postalCode: '20500',
    country: 'USA',
  });
  await client.upsertEntityField(personId, { name: 'LoyaltyTier', stringValue: 'Gold' });
  await client.upsertNote(personId, {
    summary: 'VIP',
    body: 'Prefers window seating',
    author: 'host@venue.com',
  });
  const [existing] = await client.listTags({ tagName: 'VIP' });
  const { tagId } =
    existing ??
    (await client.createTag({
      tagName: 'VIP',
      description: 'Very important person',
      disabled: false,
      defaultExpirePeriod: '00:00:00',
    }));
  if (!tagId) throw new Error('the server answered a VIP tag without a tagId');
  await client.upsertPersonTag(personId, { tagId });
}

/** A core tls-config node that verifies the server's certificate against the CA in `caFile`. */
export function trustingTlsConfig(id: string, caFile: string): object {
  return {
    id,
    type: 'tls-config',
    name: 'emulator certificate',
    cert: '',
    key: '',
    ca: caFile,
    certname: '',
    keyname: '',
    caname: '',
    servername: '',
    verifyservercert: true,
  };
}

/**
 * The settings of a core `file in` node that reads the whole file as one Buffer into msg.payload
 * (format '' with chunk off), which is what the identities nodes take; the name and filename go beside them.
 */
export const FILE_IN_SETTINGS = {
  filenameType: 'str',
  format: '',
  chunk: false,
  sendError: false,
  encoding: 'none',
  allProps: false,
};

/**
 * A publish node's every property as the editor saves it: the editor's own defaults
 * (resources/defaults.js: publishWithResponse with duplicate prevention on), but the matched person
 * with names and tags. The flow sets the node's name and server.
 */
const { name: _name, server: _server, ...publishDefaults } = nodeDefaults('identities-publish');
export const PUBLISH_SETTINGS = {
  ...publishDefaults,
  type: 'identities-publish',
  detectorName: 'Camera',
  includePerson: 'true',
  includeNames: 'true',
  includeTags: 'true',
};

/** The examples the demo runs beside its own tab, and their display names there. */
export const DEMO_EXAMPLES = [
  '10 Annotated frames - boxes and names on the picture',
  '11 Door monitor dashboard',
] as const;

/**
 * The demo camera's photos, in turn: a portrait, a landscape with two faces (one enrolled), the
 * portrait stored sideways with an EXIF Orientation tag, and a person enrolled by nobody yet.
 */
export const DEMO_PHOTOS = ['obama2.jpg', 'two_people.jpg', 'obama2-exif-rotated.jpg', 'biden.jpg'].map(
  (file) => path.join(FIXTURES, file),
);

/**
 * The demo camera's frames, written into `dir`: DEMO_PHOTOS at most 800 px on a side, as a door
 * camera's snapshots are (the fixtures are photos of up to 2 megapixels, which annotate-image, in
 * pure JavaScript, takes seconds to draw on). The EXIF-rotated one stays sideways, with its tag.
 */
export async function writeCameraFrames(dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  return Promise.all(
    DEMO_PHOTOS.map(async (photo) => {
      const frame = path.join(dir, path.basename(photo));
      await sharp(photo)
        .resize({ width: 800, height: 800, fit: 'inside' })
        .keepMetadata()
        .jpeg({ quality: 90 })
        .toFile(frame);
      return frame;
    }),
  );
}

type FlowNode = Record<string, unknown> & { id: string; type: string };

/**
 * An example as the demo runs it, set up as its comment tells a user to: the demo's server instead
 * of its own, photos from test/fixtures, example 10's snapshot taken once at start. Its ids get a
 * `demo-` prefix, so that the example itself still imports into the demo's editor without a question.
 */
function demoExample(title: string, cameraFrames: string[]): FlowNode[] {
  const flow = JSON.parse(readFileSync(path.join(ROOT, 'examples', `${title}.json`), 'utf8')) as FlowNode[];
  const server = flow.find((node) => node.type === 'identities-config')?.id;
  const ids = new Set(flow.map((node) => node.id));
  const remap = (value: unknown): unknown => {
    if (value === server) return DEMO_IDS.server;
    if (typeof value === 'string' && ids.has(value)) return `demo-${value}`;
    if (Array.isArray(value)) return value.map(remap);
    return value;
  };
  return flow
    .filter((node) => node.type !== 'identities-config' && node.type !== 'global-config')
    .map((node) => {
      const demo = Object.fromEntries(
        Object.entries(node).map(([key, value]) => [key, remap(value)]),
      ) as FlowNode;
      if (demo.type === 'file in' && demo.filenameType === 'str')
        return { ...demo, filename: path.join(FIXTURES, 'obama2-exif-rotated.jpg') };
      if (demo.type === 'inject' && demo.name === 'camera snapshot')
        return { ...demo, once: true, onceDelay: '3' };
      if (demo.type === 'change' && demo.name === 'the photos (set the paths)') {
        const [rule] = demo.rules as object[];
        return { ...demo, rules: [{ ...rule, to: JSON.stringify(cameraFrames) }] };
      }
      return demo;
    });
}

/**
 * The demo: its own tab (inject -> file in (obama2.jpg) -> publish -> debug) with a config node
 * that trusts `caFile`, and, given the camera's frames (writeCameraFrames), examples 10 (annotated
 * frames) and 11 (the door-monitor dashboard with its simulated camera) set up on the same server.
 */
export function demoFlows(
  emulatorUrl: string,
  caFile: string,
  cameraFrames?: string[],
): { flows: object[]; credentials: object } {
  const tab = DEMO_IDS.tab;
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
      id: DEMO_IDS.inject,
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
      ...FILE_IN_SETTINGS,
      x: 330,
      y: 100,
      wires: [['demo-publish']],
    },
    {
      id: DEMO_IDS.publish,
      z: tab,
      name: '',
      server: DEMO_IDS.server,
      ...PUBLISH_SETTINGS,
      detectorName: 'FrontDoorCam',
      x: 510,
      y: 100,
      wires: [[DEMO_IDS.debug]],
    },
    {
      id: DEMO_IDS.debug,
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
    {
      id: DEMO_IDS.server,
      type: 'identities-config',
      name: 'emulator',
      baseUrl: emulatorUrl,
      allowHttp: false,
      tls: DEMO_IDS.tls,
      proxy: '',
      // Every setting the dialog has: without the required numbers the editor marks the node (and
      // the publish node using it) as not properly configured at the first deploy.
      timeout: 30,
      maxConcurrent: 4,
      queueLength: 100,
      overflow: 'error',
      version: 1,
    },
    trustingTlsConfig(DEMO_IDS.tls, caFile),
    ...(cameraFrames ? DEMO_EXAMPLES.flatMap((title) => demoExample(title, cameraFrames)) : []),
  ];
  return { flows, credentials: { [DEMO_IDS.server]: { username: 'admin', password: 'admin' } } };
}

export interface UserDirOptions {
  port: number;
  /** Extra settings, e.g. quieter logging for tests. */
  settings?: Record<string, unknown>;
}

/**
 * A Node-RED user directory with this package installed (a link to the repository, as `npm link`
 * would make) and a settings.js for loopback only.
 */
export function prepareUserDir(userDir: string, { port, settings = {} }: UserDirOptions): void {
  const linked: Record<string, string> = {};
  for (const [name, target] of [
    [PACKAGE, ROOT],
    ...[...EXTRA_MODULES, ...FUNCTION_MODULES].map((name) => [
      name,
      path.dirname(require.resolve(`${name}/package.json`)),
    ]),
  ] as const) {
    const link = path.join(userDir, 'node_modules', name);
    if (!existsSync(link)) {
      mkdirSync(path.dirname(link), { recursive: true });
      symlinkSync(target, link, 'dir');
    }
    linked[name] = `file:${target}`;
  }
  // Node-RED lets function nodes load the modules its user directory's package.json depends on
  // (else it runs npm install on deploy).
  writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({ name: 'node-red-project', private: true, dependencies: linked }, null, 2),
  );
  writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = ${JSON.stringify(
      {
        uiHost: '127.0.0.1',
        uiPort: port,
        flowFile: 'flows.json',
        // A local demo: credentials are kept unencrypted in .demo/, never in a real deployment.
        credentialSecret: false,
        editorTheme: { tours: false },
        diagnostics: { enabled: false },
        telemetry: { enabled: false },
        ...settings,
      },
      null,
      2,
    )};\n`,
  );
}

/**
 * Settings for runs driven by a browser (examples, tests): warnings only in the log, and no
 * palette catalogue, which the editor would otherwise fetch from catalogue.nodered.org at load.
 */
export const OFFLINE_EDITOR_SETTINGS = {
  logging: { console: { level: 'warn', metrics: false, audit: false } },
  editorTheme: { tours: false, palette: { catalogues: [] } },
};

/** Writes flows.json and flows_cred.json (plain, as credentialSecret is false). */
export function writeFlows(userDir: string, flows: object[], credentials: object): void {
  writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows, null, 2));
  writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(credentials, null, 2));
}

/** Node-RED's own launcher (red.js) in a child process, so that stopping it never takes this process down. */
export function spawnNodeRed(userDir: string, stderr: 'inherit' | 'pipe' = 'inherit'): ChildProcess {
  return spawn(
    process.execPath,
    [
      require.resolve('node-red/red.js'),
      '--userDir',
      userDir,
      '--settings',
      path.join(userDir, 'settings.js'),
    ],
    { stdio: ['ignore', 'pipe', stderr] },
  );
}

/** A port that was free a moment ago on loopback (Node-RED cannot report the one it picked for 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

/**
 * Waits until the editor answers: red.js opens its HTTP port only once the runtime has started
 * (nodes loaded, flows started). Fails when the process exits or the deadline passes.
 */
export async function waitForNodeRed(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await getStatus(`${url}settings`)) !== 200) {
    if (child.exitCode !== null) throw new Error(`Node-RED exited with code ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`Node-RED did not start within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Asks a child process to stop (`ask`; by default SIGINT, which lets Node-RED close its flows) and
 * waits for it to exit; SIGKILL after `graceMs`.
 */
export function stopProcess(
  child: ChildProcess,
  ask: () => void = () => child.kill('SIGINT'),
  graceMs = 10_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    ask();
  });
}

export interface EmulatorProcess {
  url: string;
  /** PEM of its self-signed certificate (HTTPS only). */
  ca: string | undefined;
  stats(): Promise<EmulatorStats>;
  stop(): Promise<void>;
}

/** The emulator in a child process (scripts/emulator-process.ts), listening on loopback once this resolves. */
export async function startEmulatorProcess(options: EmulatorProcessOptions): Promise<EmulatorProcess> {
  const child = fork(path.join(__dirname, 'emulator-process.ts'), [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const waiting = new Map<number, (stats: EmulatorStats) => void>();
  const ready = await new Promise<{ url: string; ca: string | undefined }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the emulator exited (${code}) before it listened`)));
    child.on('message', (message: EmulatorReply) => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'failed') reject(new Error(message.message));
      else {
        const { type: _type, id, ...stats } = message;
        waiting.get(id)?.(stats);
        waiting.delete(id);
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    url: ready.url,
    ca: ready.ca,
    stats: () =>
      new Promise((resolve) => {
        const id = nextId++;
        waiting.set(id, resolve);
        child.send({ type: 'stats', id } satisfies EmulatorRequest);
      }),
    stop: () => stopProcess(child, () => child.send({ type: 'stop' } satisfies EmulatorRequest), 5000),
  };
}
