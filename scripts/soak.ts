/**
 * `npm run soak -- --minutes N [--rate 50]`: months of a door camera, compressed. A real Node-RED
 * (embedded here, so its memory and handles are this process's) runs a publish node against the
 * emulator (a child process, with the real face engine) while:
 * - messages arrive at `rate` per second, photos of real faces, duplicate prevention on;
 * - the emulator injects faults on publishes and logins: 5xx, 429 with Retry-After, resets before
 *   and after the headers (some after acting on the request), stalls past the timeout, slow bodies;
 * - tokens live 60 s, so they are renewed and replaced all along;
 * - the flows are redeployed every minute, with messages in flight;
 * - one message in ten goes to a fire-and-forget publish node whose config node keeps an outbox;
 * - halfway, the server is unreachable for 60 s (a gate in front of it refuses connections), and
 *   30 s into that the runtime is restarted (every flow stopped and started again, the outbox
 *   reopened from disk); the outbox must then be delivered in full once the server is back.
 * Every message is followed by the runtime's own hooks (onSend, onComplete), not by flow nodes that
 * a redeploy would stop: it must end exactly once, as an output, an error (Catch) or a counted
 * drop. The last line is the verdict; the exit code is 1 if a message was lost or duplicated.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
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
const OUTAGE_MS = 60_000;
/** Every this many messages, one goes to the fire-and-forget publish node with the outbox. */
const OUTBOX_EVERY = 10;
/** After the last message, how long the outbox may take to deliver what it kept. */
const OUTBOX_DRAIN_MS = 120_000;

/**
 * A TCP gate in front of the emulator: `down()` refuses new connections and cuts open ones, as a
 * server that went away; `up()` listens again on the same port. TLS passes through untouched.
 */
async function startGate(target: URL): Promise<{ url: string; down(): Promise<void>; up(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `${target.protocol}//127.0.0.1:${port}${target.pathname.replace(/\/$/, '')}`,
    down: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
    up: () => listen(port),
  };
}

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

/** The publish nodes whose messages are followed. */
const PUBLISH_IDS = new Set(['soak-publish', 'soak-outbox-publish']);

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
      {
        id: 'soak-outbox-server',
        type: 'identities-config',
        name: 'emulator, with the outbox',
        baseUrl: url,
        tls: 'soak-tls',
        timeout: 2,
        maxConcurrent: 4,
        queueLength: 100,
        overflow: 'drop-oldest',
        maxAge: 10,
        outbox: true,
        version: 1,
      },
      {
        ...PUBLISH_SETTINGS,
        id: 'soak-outbox-publish',
        z: 'soak-tab',
        x: 200,
        y: 200,
        server: 'soak-outbox-server',
        mode: 'fireAndForget',
        detectorName: 'SoakOutbox',
        wires: [['soak-sink']],
      },
    ],
    credentials: {
      'soak-server': { username: 'edge', password: 'edge' },
      'soak-outbox-server': { username: 'edge', password: 'edge' },
    },
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
  const gate = await startGate(new URL(emulator.url));
  const { flows, credentials } = soakFlows(gate.url, caFile);
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
  const nodes = RED.nodes as unknown as {
    getNode(id: string): (Node & { dropped?: number; outbox?: { waiting: number } }) | null;
    stopFlows(): Promise<void>;
    startFlows(): Promise<void>;
  };

  const fates = new Fates();
  /** Outputs of the outbox's publish node: published, or kept and (by the end) delivered. */
  let outboxOutputs = 0;
  RED.hooks.add('onSend.soak', (events: { source: { id: string }; msg: { seq?: unknown } }[]) => {
    for (const event of events) {
      if (!PUBLISH_IDS.has(event.source.id)) continue;
      fates.sent(event.msg.seq);
      if (event.source.id === 'soak-outbox-publish') outboxOutputs++;
    }
  });
  RED.hooks.add(
    'onComplete.soak',
    (event: { node: { id: string }; msg: { seq?: unknown }; error?: unknown }) => {
      if (PUBLISH_IDS.has(event.node.id)) fates.completed(event.msg.seq, Boolean(event.error));
    },
  );

  const runtime = RED.runtime as unknown as {
    flows: { setFlows(opts: { flows: object; deploymentType: string }): Promise<unknown> };
  };
  // A full deploy of the same flows: every node stopped and started again; the credentials stay stored.
  const deploy = () => runtime.flows.setFlows({ flows: { flows }, deploymentType: 'full' });
  const serverDrops = () =>
    (nodes.getNode('soak-server')?.dropped ?? 0) + (nodes.getNode('soak-outbox-server')?.dropped ?? 0);
  const outboxWaiting = () => nodes.getNode('soak-outbox-server')?.outbox?.waiting ?? 0;
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
    const toOutbox = (fates.count + skipped) % OUTBOX_EVERY === 0;
    const node = nodes.getNode(toOutbox ? 'soak-outbox-publish' : 'soak-publish');
    // Between stopping the old flows and starting the new, there is no node to take a message.
    if (!node || restarting) {
      skipped++;
      return;
    }
    const seq = fates.add();
    node.receive({ _msgid: `soak-${seq}`, seq, payload: photos[seq % photos.length] } as never);
  }, 1000 / rate);
  const redeploy = setInterval(() => {
    // The old config node's count, read once it is closed and can drop no more.
    const old = ['soak-server', 'soak-outbox-server'].map((id) => nodes.getNode(id));
    redeploys++;
    void deploy().then(() => (droppedBefore += old.reduce((sum, node) => sum + (node?.dropped ?? 0), 0)));
  }, REDEPLOY_EVERY_MS);
  const reporter = setInterval(() => void report(), REPORT_EVERY_MS);
  let restarting = false;
  let outageKept = 0;
  // Halfway: the server unreachable for a minute, the runtime restarted in the middle of it.
  const outage = setTimeout(
    () =>
      void (async () => {
        console.log(`t=${Math.round((Date.now() - started) / 1000)}s outage: the server is unreachable`);
        await gate.down();
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
        restarting = true;
        await nodes.stopFlows();
        await nodes.startFlows();
        restarting = false;
        console.log(`runtime restarted; outbox: ${outboxWaiting()} waiting`);
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
        outageKept = outboxWaiting();
        await gate.up();
        console.log(
          `t=${Math.round((Date.now() - started) / 1000)}s the server is back; outbox: ${outageKept} waiting`,
        );
      })(),
    (minutes * 60_000 - OUTAGE_MS) / 2,
  );

  await new Promise((resolve) => setTimeout(resolve, minutes * 60_000));
  clearInterval(tick);
  clearInterval(redeploy);
  clearTimeout(outage);
  const outboxUntil = Date.now() + OUTBOX_DRAIN_MS;
  while (outboxWaiting() > 0 && Date.now() < outboxUntil)
    await new Promise((resolve) => setTimeout(resolve, 500));
  const undelivered = outboxWaiting();
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
  await gate.down();
  rmSync(work, { recursive: true, force: true });

  const t = fates.tally();
  console.log(`faults injected: ${JSON.stringify(injected)}`);
  console.log(
    `redeploys ${redeploys}; ticks without a node (mid-redeploy) ${skipped}; ` +
      `drops by the runtime's hooks ${t.dropped}, by the config nodes' counters ${drops}`,
  );
  console.log(
    `outage: ${outageKept} detection(s) waiting in the outbox when the server came back, ` +
      `${undelivered} still waiting at the end; its node's outputs ${outboxOutputs}, publish requests ` +
      `${counts.publish ?? 0} (more when a redeploy cut a request short after it was sent)`,
  );
  console.log(
    `soak: ${fates.count} messages, lost ${t.pending + undelivered}, duplicated ${t.duplicated}, ` +
      `authenticate ${counts.authenticate ?? 0}, renew ${counts.renewToken ?? 0}, rss MB ${mb(rssStart)}->${mb(rssEnd)}`,
  );
  if (t.pending > 0 || undelivered > 0 || t.duplicated > 0 || t.dropped !== drops) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
