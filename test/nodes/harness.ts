/**
 * What every node spec shares: the built nodes (dist/, as Node-RED loads them) with their real
 * message catalogs, the emulator on loopback, flows with a Catch node, and ways to wait for
 * outputs, errors and statuses without sleeping.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type NodeRedUtil from '@node-red/util';
import type { Node, NodeAPI, NodeMessage, NodeStatus } from 'node-red';
import sharp from 'sharp';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../emulator/server';
import { NODE_TYPES } from '../../scripts/runtime';

const MODULE = 'node-red-contrib-econnect-identities';
const DIST_NODES = path.join(__dirname, '..', '..', 'dist', 'nodes');
const requireBuilt = createRequire(__filename);

/**
 * The Node-RED runtime the specs run on (its red.js): the node-red package folder in NODE_RED_PATH,
 * so that scripts/test-versions.sh can run them on other versions, else the devDependency.
 */
export const NODE_RED = requireBuilt.resolve(
  process.env.NODE_RED_PATH ? path.resolve(process.env.NODE_RED_PATH) : 'node-red',
);
/** Requires as that runtime does: its own i18n and core nodes, not the devDependency's. */
const requireRuntime = createRequire(NODE_RED);
const nodeRedUtil = requireRuntime('@node-red/util') as typeof NodeRedUtil;

export { NODE_TYPES };

type NodeInitializer = (RED: NodeAPI) => void;

export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  wires?: string[][];
  [setting: string]: unknown;
}

type Credentials = Record<string, Record<string, string>>;

interface SpyCall {
  args: unknown[];
  thisValue: { id: string };
}

/** The parts of node-red-node-test-helper (untyped) that the specs use. */
interface TestHelper {
  init(runtimePath: string): void;
  load(nodes: NodeInitializer[], flow: FlowNode[], credentials?: Credentials): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): Node | null;
  setFlows(flow: FlowNode[], type: string, credentials?: Credentials): Promise<void>;
  request(): { post(url: string): { send(body: object): PromiseLike<{ status: number; body: unknown }> } };
  log(): { getCalls(): SpyCall[] };
  _redNodes: { getFlows(): { flows: FlowNode[] } | null };
  _NodePrototype: { status: { getCalls(): SpyCall[] } };
  _nodeModules: { catch: unknown };
}

export const helper = requireBuilt('node-red-node-test-helper') as TestHelper;
// Its constructor took the runtime it found itself; point it at ours. It logs and swallows a
// failure to load one, leaving the old one half in place: make sure it took ours whole.
helper.init(NODE_RED);
if (helper._nodeModules.catch !== requireRuntime('@node-red/nodes/core/common/25-catch.js'))
  throw new Error(`node-red-node-test-helper did not load the Node-RED runtime at ${NODE_RED}`);

let catalogs: Promise<void> | undefined;

/** Registers the built catalogs with Node-RED's i18n, so that specs see the words users see. */
function loadCatalogs(): Promise<void> {
  catalogs ??= (async () => {
    nodeRedUtil.init({
      uiPort: 0,
      uiHost: '127.0.0.1',
      logging: { console: { level: 'off', metrics: false, audit: false } },
    });
    await Promise.all(
      NODE_TYPES.map((type) =>
        nodeRedUtil.i18n.registerMessageCatalog(
          `${MODULE}/${type}`,
          path.join(DIST_NODES, 'locales'),
          `${type}.json`,
        ),
      ),
    );
  })();
  return catalogs;
}

/** A built node module whose RED._ translates like Node-RED's does: keys in the node's own catalog unless namespaced. */
function localized(type: string): NodeInitializer {
  const initialize = requireBuilt(path.join(DIST_NODES, `${type}.js`)) as NodeInitializer;
  return (RED) => {
    const translate = (key: string, substitutions?: Record<string, string | number>) =>
      nodeRedUtil.i18n._(key.includes(':') ? key : `${MODULE}/${type}:${key}`, substitutions);
    initialize(Object.assign(Object.create(RED) as NodeAPI, { _: translate }));
  };
}

/** The core config nodes the identities-config node builds on. */
const CORE_CONFIG_NODES = ['05-tls.js', '06-httpproxy.js'].map(
  (file) => requireRuntime(`@node-red/nodes/core/network/${file}`) as NodeInitializer,
);
const GLOBAL_TYPES = new Set(['identities-config', 'tls-config', 'http proxy']);

const modules = [...CORE_CONFIG_NODES, ...NODE_TYPES.map(localized)];

export const TAB = 'tab';

/**
 * The flow with a tab, and a Catch node that forwards every error to the helper node `errors`.
 * Flow nodes get a position: Node-RED 4 takes a node without one for a config node.
 */
export function flow(nodes: FlowNode[]): FlowNode[] {
  return [
    { id: TAB, type: 'tab', label: 'test' },
    ...nodes.map((node) => (GLOBAL_TYPES.has(node.type) ? node : { z: TAB, x: 100, y: 100, ...node })),
    { id: 'catch', type: 'catch', z: TAB, x: 100, y: 200, scope: null, uncaught: false, wires: [['errors']] },
    { id: 'errors', type: 'helper', z: TAB, x: 300, y: 200 },
  ];
}

export function serverNode(emulator: Emulator, settings: Record<string, unknown> = {}): FlowNode {
  return {
    id: 'server',
    type: 'identities-config',
    name: 'emulator',
    baseUrl: emulator.url,
    allowHttp: emulator.url.startsWith('http:'),
    timeout: 10,
    maxConcurrent: 4,
    queueLength: 100,
    overflow: 'error',
    version: 1,
    ...settings,
  };
}

export function credentials(username: string, password = username, id = 'server'): Credentials {
  return { [id]: { username, password } };
}

export function helperNodes(...ids: string[]): FlowNode[] {
  return ids.map((id) => ({ id, type: 'helper' }));
}

export async function load(nodes: FlowNode[], creds: Credentials = credentials('admin')): Promise<void> {
  await loadCatalogs();
  await helper.load(modules, flow(nodes), creds);
}

export function node(id: string): Node {
  const found = helper.getNode(id);
  if (!found) throw new Error(`node ${id} is not in the flow`);
  return found;
}

/** Resolves with the next message `id` receives; rejects after `timeoutMs`. */
export function nextMessage(id: string, timeoutMs = 5000): Promise<NodeMessage> {
  const target = node(id);
  return new Promise((resolve, reject) => {
    const onInput = (msg: NodeMessage) => {
      clearTimeout(timer);
      resolve(msg);
    };
    const timer = setTimeout(() => {
      target.removeListener('input', onInput);
      reject(new Error(`no message reached ${id} within ${timeoutMs} ms`));
    }, timeoutMs);
    target.once('input', onInput);
  });
}

/**
 * Sends `msg` to `id` and resolves with what comes out of `output`, or rejects with the error a
 * Catch node got: for running one operation after another.
 */
export function ask(id: string, msg: NodeMessage, output = 'out1', timeoutMs = 5000): Promise<NodeMessage> {
  const out = node(output);
  const errors = node('errors');
  return new Promise((resolve, reject) => {
    const finish = () => {
      clearTimeout(timer);
      out.removeListener('input', onOutput);
      errors.removeListener('input', onError);
    };
    const onOutput = (result: NodeMessage) => {
      finish();
      resolve(result);
    };
    const onError = (caught: NodeMessage) => {
      finish();
      reject(Object.assign(new Error((caught.error as CaughtError).message), caught.error));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`neither ${output} nor Catch got a message within ${timeoutMs} ms`));
    }, timeoutMs);
    out.on('input', onOutput);
    errors.on('input', onError);
    send(id, msg);
  });
}

/** Every message `id` receives from now on. */
export function collect(id: string): NodeMessage[] {
  const received: NodeMessage[] = [];
  node(id).on('input', (msg: NodeMessage) => received.push(msg));
  return received;
}

/** The error a Catch node got: msg.error as Node-RED builds it. */
export interface CaughtError {
  message: string;
  code?: string;
  source: { id: string; type: string };
}

/** The runtime's version: Node-RED copies an error's code into the Catch message from 4.1 on. */
const RUNTIME_VERSION = (requireRuntime('node-red/package.json') as { version: string }).version;
const [major = 0, minor = 0] = RUNTIME_VERSION.split('.').map(Number);
export const CATCH_CARRIES_CODE = major > 4 || (major === 4 && minor >= 1);

/** msg.error.code on runtimes that pass it to Catch nodes; older ones (3.x, 4.0) drop it. */
export function assertErrorCode(error: CaughtError, code: string): void {
  if (CATCH_CARRIES_CODE) assert.equal(error.code, code);
  else assert.equal(error.code, undefined, `Node-RED ${RUNTIME_VERSION} passes no msg.error.code`);
}

/** `ask` rejected with a caught error of this code (where the runtime passes codes on) and message. */
export async function assertCaught(asked: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(asked, (err: unknown) => {
    const caught = err as CaughtError;
    assertErrorCode(caught, code);
    if (message) assert.match(caught.message, message);
    return true;
  });
}

export async function nextError(timeoutMs = 5000): Promise<CaughtError> {
  return (await nextMessage('errors', timeoutMs)).error as CaughtError;
}

/** Every status node `id` has set since the flow was loaded, oldest first (from the helper's spy). */
export function statuses(id: string): NodeStatus[] {
  return helper._NodePrototype.status
    .getCalls()
    .filter((call) => call.thisValue.id === id)
    .map((call) => call.args[0] as NodeStatus);
}

/** Waits until `condition` holds, polling; for states reached by background work (a login at deploy). */
export async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function send(id: string, msg: NodeMessage): void {
  node(id).receive(msg);
}

/** Every text the runtime logged since the flow was loaded. */
export function loggedTexts(): string[] {
  return helper
    .log()
    .getCalls()
    .map((call) => JSON.stringify(call.args));
}

/** A JPEG the emulator's simple engine sees as one face; each colour is another person. */
export function face(red: number, green = 40, blue = 80, size = 64): Promise<Buffer> {
  return sharp({
    create: { width: size, height: size, channels: 3, background: { r: red, g: green, b: blue } },
  })
    .jpeg()
    .toBuffer();
}

/** An image too small to hold a face for the simple engine. */
export function noFace(): Promise<Buffer> {
  return face(200, 200, 200, 32);
}

export const PASSWORD = 'Correct-Horse-Battery-7';

/** A users file whose admin has a password long and odd enough to be found if it leaks anywhere. */
export function usersFileWithSecretPassword(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'identities-users-'));
  const file = path.join(dir, 'users.json');
  writeFileSync(
    file,
    JSON.stringify({
      roles: { Administrator: { permissions: 'all' } },
      users: [
        { username: 'operator', password: PASSWORD, email: 'op@identities.test', roles: ['Administrator'] },
      ],
    }),
  );
  return file;
}

export function emulator(options: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator({ port: 0, https: false, engine: 'simple', log: () => undefined, ...options });
}
