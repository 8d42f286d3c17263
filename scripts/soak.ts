/**
 * `npm run soak -- --minutes N [--rate 50]`: months of a door camera, compressed. A real Node-RED
 * (embedded here, so its memory and handles are this process's) runs a publish node against the
 * emulator (a child process, with the real face engine) while:
 * - messages arrive at `rate` per second, photos of real faces, duplicate prevention on;
 * - the emulator injects faults on publishes and logins: 5xx, 429 with Retry-After, resets before
 *   and after the headers (some after acting on the request), stalls past the timeout, slow bodies;
 * - tokens live 60 s, so they are renewed and replaced all along;
 * - the flows are redeployed every minute, with messages in flight.
 * Every message is followed by the runtime's own hooks (onSend, onComplete), not by flow nodes that
 * a redeploy would stop: it must end exactly once, as an output, an error (Catch) or a counted
 * drop. The last line is the verdict; the exit code is 1 if a message was lost or duplicated.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Node } from 'node-red';
import type { FaultRule } from '../emulator/faults';
import { FIXTURES, prepareUserDir, PUBLISH_SETTINGS, trustingTlsConfig, writeFlows } from './runtime';

const ROLE_EMULATOR = '--emulator-child';
const TOKEN_LIFETIME_SECONDS = 60;
const REDEPLOY_EVERY_MS = 60_000;
const REPORT_EVERY_MS = 30_000;
/** After the last message, how long the ones still in flight may take (retries, a 429 pause). */
const DRAIN_MS = 30_000;

const SOAK_FAULTS: FaultRule[] = [
  { operations: ['publishWithResponse'], rate: 0.02, fault: { type: 'status', status: 503 } },
  { operations: ['publishWithResponse'], rate: 0.005, fault: { type: 'status', status: 500 } },
  { operations: ['publishWithResponse'], rate: 0.002, fault: { type: 'status', status: 429, retryAfter: 1 } },
  { operations: ['publishWithResponse'], rate: 0.01, fault: { type: 'reset-before-headers' } },
  {
    operations: ['publishWithResponse'],
    rate: 0.005,
    fault: { type: 'reset-before-headers', processed: true },
  },
  { operations: ['publishWithResponse'], rate: 0.01, fault: { type: 'reset-after-headers' } },
  { operations: ['publishWithResponse'], rate: 0.002, fault: { type: 'stall', ms: 3000 } },
  { operations: ['publishWithResponse'], rate: 0.01, fault: { type: 'slow-body', bytesPerSecond: 20_000 } },
  { operations: ['authenticate', 'renewToken'], rate: 0.1, fault: { type: 'status', status: 503 } },
  { operations: ['renewToken'], rate: 0.05, fault: { type: 'reset-before-headers' } },
];

interface EmulatorReady {
  url: string;
  ca: string;
}

/** The child's side: an emulator that reports its request counts when asked. */
async function emulatorChild(): Promise<void> {
  // Imported here: the face engine belongs to the child, not to the memory measured in the parent.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startEmulator } = require('../emulator/server') as typeof import('../emulator/server');
  const emulator = await startEmulator({
    tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS,
    faults: SOAK_FAULTS,
    log: () => undefined,
  });
  process.on('message', (message: string) => {
    if (message === 'counts') process.send?.({ counts: emulator.counts, injected: emulator.faults.injected });
    if (message === 'close') void emulator.close().then(() => process.exit(0));
  });
  process.send?.({ url: emulator.url, ca: emulator.ca ?? '' } satisfies EmulatorReady);
}

function ask<T>(child: ChildProcess, message: string, key: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (reply: Record<string, unknown>) => {
      if (!(key in reply)) return;
      child.off('message', onMessage);
      resolve(reply as T);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

function soakFlows(url: string, caFile: string): { flows: object[]; credentials: object } {
  return {
    flows: [
      { id: 'soak-tab', type: 'tab', label: 'soak' },
      trustingTlsConfig('soak-tls', caFile),
      {
        id: 'soak-server',
        type: 'identities-config',
        name: 'emulator',
        baseUrl: url,
        tls: 'soak-tls',
        timeout: 2,
        maxConcurrent: 8,
        queueLength: 100,
        overflow: 'drop-oldest',
        maxAge: 10,
        version: 1,
      },
      {
        ...PUBLISH_SETTINGS,
        id: 'soak-publish',
        z: 'soak-tab',
        x: 200,
        y: 100,
        server: 'soak-server',
        detectorName: 'SoakDoor',
        wires: [['soak-sink']],
      },
      { id: 'soak-sink', type: 'junction', z: 'soak-tab', x: 400, y: 100, wires: [] },
    ],
    credentials: { 'soak-server': { username: 'edge', password: 'edge' } },
  };
}

interface Fate {
  sends: number;
  completes: number;
  failed: boolean;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { minutes: { type: 'string', default: '5' }, rate: { type: 'string', default: '50' } },
  });
  const minutes = Number(values.minutes);
  const rate = Number(values.rate);
  if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got ${values.minutes}`);
  if (!(rate > 0 && rate <= 1000))
    throw new Error(`--rate must be 1-1000 messages a second, got ${values.rate}`);

  const child = fork(__filename, [ROLE_EMULATOR], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<EmulatorReady>((resolve, reject) => {
    child.once('message', (message) => resolve(message as EmulatorReady));
    child.once('exit', (code) => reject(new Error(`the emulator exited (${code})`)));
  });
  const work = mkdtempSync(path.join(tmpdir(), 'identities-soak-'));
  const caFile = path.join(work, 'ca.pem');
  writeFileSync(caFile, ready.ca);
  prepareUserDir(work, { port: 0 });
  const { flows, credentials } = soakFlows(ready.url, caFile);
  writeFlows(work, flows, credentials);

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RED = require('node-red') as typeof import('node-red');
  RED.init(http.createServer(), {
    userDir: work,
    flowFile: 'flows.json',
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: false,
    logging: { console: { level: 'warn' } },
  } as never);
  await RED.start();
  const nodes = RED.nodes as unknown as { getNode(id: string): (Node & { dropped?: number }) | null };

  const fates = new Map<number, Fate>();
  const fate = (seq: unknown): Fate | undefined => (typeof seq === 'number' ? fates.get(seq) : undefined);
  RED.hooks.add('onSend.soak', (events: { source: { id: string }; msg: { seq?: unknown } }[]) => {
    for (const event of events) {
      const entry = event.source.id === 'soak-publish' ? fate(event.msg.seq) : undefined;
      if (entry) entry.sends++;
    }
  });
  RED.hooks.add(
    'onComplete.soak',
    (event: { node: { id: string }; msg: { seq?: unknown }; error?: unknown }) => {
      const entry = event.node.id === 'soak-publish' ? fate(event.msg.seq) : undefined;
      if (!entry) return;
      entry.completes++;
      if (event.error) entry.failed = true;
    },
  );

  const runtime = RED.runtime as unknown as {
    flows: { setFlows(opts: { flows: object; deploymentType: string }): Promise<unknown> };
  };
  // A full deploy of the same flows: every node stopped and started again; the credentials stay stored.
  const deploy = () => runtime.flows.setFlows({ flows: { flows }, deploymentType: 'full' });
  const serverDrops = () => nodes.getNode('soak-server')?.dropped ?? 0;
  const photos = ['obama.jpg', 'obama2.jpg', 'biden.jpg'].map((name) =>
    readFileSync(path.join(FIXTURES, name)),
  );
  let seq = 0;
  let skipped = 0;
  let droppedBefore = 0;
  let redeploys = 0;
  const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  const rssStart = process.memoryUsage().rss;
  const started = Date.now();

  const tally = () => {
    let output = 0;
    let failed = 0;
    let dropped = 0;
    let pending = 0;
    let duplicated = 0;
    for (const entry of fates.values()) {
      if (entry.completes === 0) pending++;
      else if (entry.failed) failed++;
      else if (entry.sends > 0) output++;
      else dropped++;
      if (entry.completes > 1 || entry.sends > 1) duplicated++;
    }
    return { output, failed, dropped, pending, duplicated };
  };
  const report = async () => {
    const { counts } = await ask<{ counts: Record<string, number> }>(child, 'counts', 'counts');
    const t = tally();
    const handles = process.getActiveResourcesInfo().length;
    console.log(
      `t=${Math.round((Date.now() - started) / 1000)}s messages ${seq} (output ${t.output}, error ${t.failed}, ` +
        `dropped ${t.dropped}, in flight ${t.pending}, duplicated ${t.duplicated}) ` +
        `publish requests ${counts.publishWithResponse ?? 0}, authenticate ${counts.authenticate ?? 0}, ` +
        `renew ${counts.renewToken ?? 0}, rss ${mb(process.memoryUsage().rss)} MB, handles ${handles}`,
    );
  };

  const tick = setInterval(() => {
    const node = nodes.getNode('soak-publish');
    // Between stopping the old flows and starting the new, there is no node to take a message.
    if (!node) {
      skipped++;
      return;
    }
    seq++;
    fates.set(seq, { sends: 0, completes: 0, failed: false });
    node.receive({ _msgid: `soak-${seq}`, seq, payload: photos[seq % photos.length] } as never);
  }, 1000 / rate);
  const redeploy = setInterval(() => {
    // The old config node's count, read once it is closed and can drop no more.
    const old = nodes.getNode('soak-server');
    redeploys++;
    void deploy().then(() => (droppedBefore += old?.dropped ?? 0));
  }, REDEPLOY_EVERY_MS);
  const reporter = setInterval(() => void report(), REPORT_EVERY_MS);

  await new Promise((resolve) => setTimeout(resolve, minutes * 60_000));
  clearInterval(tick);
  clearInterval(redeploy);
  const drainUntil = Date.now() + DRAIN_MS;
  while (tally().pending > 0 && Date.now() < drainUntil)
    await new Promise((resolve) => setTimeout(resolve, 200));
  clearInterval(reporter);
  await report();
  const drops = droppedBefore + serverDrops();
  const rssEnd = process.memoryUsage().rss;
  const { counts, injected } = await ask<{
    counts: Record<string, number>;
    injected: Record<string, number>;
  }>(child, 'counts', 'counts');
  await RED.stop();
  child.send('close');
  rmSync(work, { recursive: true, force: true });

  const t = tally();
  console.log(`faults injected: ${JSON.stringify(injected)}`);
  console.log(
    `redeploys ${redeploys}; ticks without a node (mid-redeploy) ${skipped}; ` +
      `drops by the runtime's hooks ${t.dropped}, by the config nodes' counters ${drops}`,
  );
  console.log(
    `soak: ${seq} messages, lost ${t.pending}, duplicated ${t.duplicated}, ` +
      `authenticate ${counts.authenticate ?? 0}, renew ${counts.renewToken ?? 0}, rss MB ${mb(rssStart)}->${mb(rssEnd)}`,
  );
  if (t.pending > 0 || t.duplicated > 0 || t.dropped !== drops) process.exitCode = 1;
}

if (process.argv.includes(ROLE_EMULATOR)) {
  emulatorChild().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
