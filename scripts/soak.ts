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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Node } from 'node-red';
import type { FaultRule } from '../emulator/faults';
import {
  FIXTURES,
  prepareUserDir,
  PUBLISH_SETTINGS,
  startEmulatorProcess,
  trustingTlsConfig,
  writeFlows,
} from './runtime';

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

/**
 * What became of each message, by its sequence number: outputs sent, completions, and whether one
 * was an error. Typed arrays grown by doubling, so that the bookkeeping adds 3 bytes a message to
 * the memory the soak measures (a Map of objects added ~100).
 */
class Fates {
  private sends = new Uint8Array(1 << 16);
  private completes = new Uint8Array(1 << 16);
  private failed = new Uint8Array(1 << 16);
  count = 0;

  /** A new message's number (from 1). */
  add(): number {
    this.count++;
    if (this.count >= this.sends.length) {
      const grow = (old: Uint8Array) => {
        const next = new Uint8Array(old.length * 2);
        next.set(old);
        return next;
      };
      this.sends = grow(this.sends);
      this.completes = grow(this.completes);
      this.failed = grow(this.failed);
    }
    return this.count;
  }

  private known(seq: unknown): seq is number {
    return typeof seq === 'number' && Number.isInteger(seq) && seq >= 1 && seq <= this.count;
  }

  sent(seq: unknown): void {
    if (this.known(seq)) this.sends[seq] = Math.min(255, (this.sends[seq] ?? 0) + 1);
  }

  completed(seq: unknown, error: boolean): void {
    if (!this.known(seq)) return;
    this.completes[seq] = Math.min(255, (this.completes[seq] ?? 0) + 1);
    if (error) this.failed[seq] = 1;
  }

  tally(): { output: number; failed: number; dropped: number; pending: number; duplicated: number } {
    const t = { output: 0, failed: 0, dropped: 0, pending: 0, duplicated: 0 };
    for (let seq = 1; seq <= this.count; seq++) {
      const completes = this.completes[seq] ?? 0;
      const sends = this.sends[seq] ?? 0;
      if (completes === 0) t.pending++;
      else if (this.failed[seq]) t.failed++;
      else if (sends > 0) t.output++;
      else t.dropped++;
      if (completes > 1 || sends > 1) t.duplicated++;
    }
    return t;
  }
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

  // In a child process: the face engine's memory and CPU are not the measured process's.
  const emulator = await startEmulatorProcess({
    engine: 'faceapi',
    tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS,
    faults: SOAK_FAULTS,
  });
  const work = mkdtempSync(path.join(tmpdir(), 'identities-soak-'));
  const caFile = path.join(work, 'ca.pem');
  writeFileSync(caFile, emulator.ca ?? '');
  prepareUserDir(work, { port: 0 });
  const { flows, credentials } = soakFlows(emulator.url, caFile);
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

  const fates = new Fates();
  RED.hooks.add('onSend.soak', (events: { source: { id: string }; msg: { seq?: unknown } }[]) => {
    for (const event of events) if (event.source.id === 'soak-publish') fates.sent(event.msg.seq);
  });
  RED.hooks.add(
    'onComplete.soak',
    (event: { node: { id: string }; msg: { seq?: unknown }; error?: unknown }) => {
      if (event.node.id === 'soak-publish') fates.completed(event.msg.seq, Boolean(event.error));
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
  let skipped = 0;
  let droppedBefore = 0;
  let redeploys = 0;
  const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
  const rssStart = process.memoryUsage().rss;
  const started = Date.now();

  const report = async () => {
    const { counts } = await emulator.stats();
    const t = fates.tally();
    const handles = process.getActiveResourcesInfo().length;
    console.log(
      `t=${Math.round((Date.now() - started) / 1000)}s messages ${fates.count} (output ${t.output}, error ${t.failed}, ` +
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
    const seq = fates.add();
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
  while (fates.tally().pending > 0 && Date.now() < drainUntil)
    await new Promise((resolve) => setTimeout(resolve, 200));
  clearInterval(reporter);
  await report();
  const drops = droppedBefore + serverDrops();
  const rssEnd = process.memoryUsage().rss;
  const { counts, injected } = await emulator.stats();
  await RED.stop();
  await emulator.stop();
  rmSync(work, { recursive: true, force: true });

  const t = fates.tally();
  console.log(`faults injected: ${JSON.stringify(injected)}`);
  console.log(
    `redeploys ${redeploys}; ticks without a node (mid-redeploy) ${skipped}; ` +
      `drops by the runtime's hooks ${t.dropped}, by the config nodes' counters ${drops}`,
  );
  console.log(
    `soak: ${fates.count} messages, lost ${t.pending}, duplicated ${t.duplicated}, ` +
      `authenticate ${counts.authenticate ?? 0}, renew ${counts.renewToken ?? 0}, rss MB ${mb(rssStart)}->${mb(rssEnd)}`,
  );
  if (t.pending > 0 || t.duplicated > 0 || t.dropped !== drops) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
