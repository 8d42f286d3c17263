/**
 * A real Node-RED runtime embedded in the benchmark process (never node-red-node-test-helper, whose
 * spies record every send: DESIGN.md section 8). The identities nodes are loaded from their
 * TypeScript sources through tsx, so case A runs the very client module case B calls.
 */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NodeMessageInFlow } from 'node-red';
import { hub, SINK_TYPE, SOURCE_TYPE, type BenchMessage } from './flow-nodes';
import { ROOT } from '../scripts/runtime';

const IDENTITY_TYPES = ['identities-config', 'identities-publish', 'identities-lookup'] as const;

/** The parts of Node-RED's embedding API the benchmark uses (node-red ships no types for it). */
interface EmbeddedRed {
  init(settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface FlowIds {
  publishSource: string;
  lookupSource: string;
}

export const FLOW_IDS: FlowIds = { publishSource: 'src-publish', lookupSource: 'src-lookup' };

export interface EmbeddedRuntime {
  /** Sends `msg` from a source node; resolves when it (or its error) reaches the sink. */
  send(sourceId: string, msg: Omit<BenchMessage, 'benchId'>): Promise<NodeMessageInFlow>;
  stop(): Promise<void>;
}

/** A node module in the user directory whose node files load the TypeScript sources. */
function writeBenchModule(moduleDir: string): void {
  mkdirSync(moduleDir, { recursive: true });
  const nodes: Record<string, string> = { 'bench-nodes': 'bench-nodes.js' };
  writeFileSync(
    path.join(moduleDir, 'bench-nodes.js'),
    `module.exports = require(${JSON.stringify(path.join(__dirname, 'flow-nodes.ts'))}).registerBenchNodes;\n`,
  );
  writeFileSync(path.join(moduleDir, 'bench-nodes.html'), '');
  for (const type of IDENTITY_TYPES) {
    nodes[type] = `${type}.js`;
    writeFileSync(
      path.join(moduleDir, `${type}.js`),
      `module.exports = require(${JSON.stringify(path.join(ROOT, 'nodes', `${type}.ts`))});\n`,
    );
    // The dialogs and message catalogs, where Node-RED looks for them: beside each node file.
    symlinkSync(path.join(ROOT, 'nodes', `${type}.html`), path.join(moduleDir, `${type}.html`));
  }
  symlinkSync(path.join(ROOT, 'nodes', 'locales'), path.join(moduleDir, 'locales'), 'dir');
  writeFileSync(
    path.join(moduleDir, 'package.json'),
    JSON.stringify({ name: 'identities-bench-nodes', version: '0.0.0', 'node-red': { nodes } }),
  );
}

/**
 * source -> publish (publishWithResponse, the node's defaults) -> sink, and source -> lookup -> sink
 * (both outputs), and a catch node so that a failed message completes too. `maxConcurrent` is set
 * above the highest case concurrency: the source alone decides how many messages are in flight.
 */
function flows(
  baseUrl: string,
  maxConcurrent: number,
  overrides: { server?: object; publish?: object },
): object[] {
  const z = 'bench-tab';
  return [
    { id: z, type: 'tab', label: 'bench' },
    {
      id: 'server',
      type: 'identities-config',
      baseUrl,
      allowHttp: true,
      timeout: 30,
      maxConcurrent,
      queueLength: 1000,
      overflow: 'error',
      ...overrides.server,
    },
    { id: FLOW_IDS.publishSource, type: SOURCE_TYPE, z, wires: [['publish']] },
    {
      id: 'publish',
      type: 'identities-publish',
      z,
      server: 'server',
      mode: 'withResponse',
      split: 'all',
      separateOutputs: false,
      image: 'payload',
      imageType: 'msg',
      detectorName: 'BenchCam',
      detectorNameType: 'str',
      wires: [['sink']],
      ...overrides.publish,
    },
    { id: FLOW_IDS.lookupSource, type: SOURCE_TYPE, z, wires: [['lookup']] },
    {
      id: 'lookup',
      type: 'identities-lookup',
      z,
      server: 'server',
      image: 'payload',
      imageType: 'msg',
      wires: [['sink'], ['sink']],
    },
    { id: 'errors', type: 'catch', z, scope: null, uncaught: false, wires: [['sink']] },
    { id: 'sink', type: SINK_TYPE, z, wires: [] },
  ];
}

export async function startRuntime(options: {
  baseUrl: string;
  username: string;
  password: string;
  maxConcurrent: number;
  /** Settings that replace the config node's or the publish node's (bench/outbox.ts turns the outbox on). */
  server?: object;
  publish?: object;
}): Promise<EmbeddedRuntime> {
  const userDir = mkdtempSync(path.join(tmpdir(), 'identities-bench-'));
  writeBenchModule(path.join(userDir, 'node_modules', 'identities-bench-nodes'));
  writeFileSync(
    path.join(userDir, 'flows.json'),
    JSON.stringify(flows(options.baseUrl, options.maxConcurrent, options)),
  );
  // credentialSecret false: the credentials file is plain JSON, written here as the editor would.
  writeFileSync(
    path.join(userDir, 'flows_cred.json'),
    JSON.stringify({ server: { username: options.username, password: options.password } }),
  );
  // Loaded here, not imported: @types/node-red types the nodes' API, not this embedding one.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED = require('node-red') as EmbeddedRed;
  RED.init({
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    telemetry: { enabled: false },
    logging: { console: { level: 'warn', metrics: false, audit: false } },
  });

  const pending = new Map<number, (msg: NodeMessageInFlow) => void>();
  let next = 0;
  hub.onSink = (msg) => {
    const id = (msg as Partial<BenchMessage>).benchId;
    if (id === undefined) return;
    pending.get(id)?.(msg);
    pending.delete(id);
  };
  await RED.start();
  // Deploying starts the nodes asynchronously; the sources register when they are constructed.
  for (let waited = 0; !Object.values(FLOW_IDS).every((id) => hub.sources.has(id)); waited += 20) {
    if (waited > 20_000) throw new Error('the bench flow did not start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  return {
    send(sourceId, msg) {
      const source = hub.sources.get(sourceId);
      if (!source) return Promise.reject(new Error(`no source ${sourceId}`));
      const benchId = next++;
      return new Promise((resolve) => {
        pending.set(benchId, resolve);
        source.send({ ...msg, benchId });
      });
    },
    async stop() {
      await RED.stop();
      rmSync(userDir, { recursive: true, force: true });
    },
  };
}
