/**
 * `npm run bench:outbox -- [--entries 1000] [--messages 3000]`: the outbox's figures (issue 15).
 *
 * 1. Delivery rate once the server is back: an outbox filled with `entries` camera images (50 KB
 *    and 200 KB) is delivered by the courier, one entry at a time, through the client to the
 *    emulator (its own process, simple engine, plain HTTP on loopback). Also the rate at which the
 *    outbox takes entries (each fsynced) while the server is down.
 * 2. The extra CPU per message while the outbox is empty: a real embedded Node-RED, source ->
 *    fire-and-forget publish -> sink, 8 messages in flight, with the outbox off and on, in child
 *    processes run alternately (a Node-RED runtime is started once per process), 3 rounds each;
 *    this process's CPU (process.cpuUsage) per message, medians.
 * Results go to bench/results/outbox.json.
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { IdentitiesClient } from '../client/client';
import { Outbox, serverIdentity } from '../nodes/lib/outbox';
import { Courier, requestOf } from '../nodes/lib/outbox-delivery';
import { startEmulatorProcess } from '../scripts/runtime';
import { benchJpeg } from './images';
import { closedLoop, collectGarbage, median } from './measure';
import { FLOW_IDS, startRuntime } from './runtime';

const EDGE = { username: 'edge', password: 'edge' };
const CONCURRENCY = 8;
const ROUNDS = 3;
const RESULTS = path.join(__dirname, 'results', 'outbox.json');

interface DeliveryFigure {
  imageBytes: number;
  entries: number;
  keptPerSecond: number;
  deliveredPerSecond: number;
}

async function deliveryRate(baseUrl: string, imageBytes: number, entries: number): Promise<DeliveryFigure> {
  const dir = mkdtempSync(path.join(tmpdir(), 'outbox-bench-'));
  const client = new IdentitiesClient({ baseUrl, ...EDGE });
  try {
    const image = await benchJpeg(640, imageBytes);
    const outbox = await Outbox.open({
      dir,
      identity: serverIdentity(client.baseUrl, EDGE.username),
      maxBytes: Number.MAX_SAFE_INTEGER,
      maxAgeMs: Number.MAX_SAFE_INTEGER,
      adopt: false,
      mode: 0o700,
      onDrop: (reason) => {
        throw new Error(`an entry was dropped (${reason})`);
      },
    });
    // As during an outage: one detection after the other, each on disk before the next.
    const keepStart = performance.now();
    for (let i = 0; i < entries; i++) {
      await outbox.add({
        expanded: image,
        detectorName: 'BenchCam',
        ianaTimeZone: 'UTC',
        detectTimeUtc: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString().replace('.000', ''),
      });
    }
    const keptPerSecond = entries / ((performance.now() - keepStart) / 1000);
    await client.login();
    const lost: unknown[] = [];
    const deliverStart = performance.now();
    await new Promise<void>((resolve, reject) => {
      const courier = new Courier({
        outbox,
        send: (entry) => client.publish(requestOf(entry)),
        onLost: (err) => lost.push(err),
        onStorageError: reject,
        onChange: () => {
          if (outbox.count === 0) resolve();
        },
      });
      courier.wake(false);
    });
    const deliveredPerSecond = entries / ((performance.now() - deliverStart) / 1000);
    if (lost.length) throw new Error(`${lost.length} entries were not delivered: ${String(lost[0])}`);
    return { imageBytes, entries, keptPerSecond, deliveredPerSecond };
  } finally {
    client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** In a child: CPU microseconds per fire-and-forget message through Node-RED, the outbox on or off. */
async function cpuPerMessage(baseUrl: string, outbox: boolean, messages: number): Promise<number> {
  const runtime = await startRuntime({
    baseUrl,
    ...EDGE,
    maxConcurrent: CONCURRENCY * 2,
    server: { outbox },
    publish: { mode: 'fireAndForget' },
  });
  try {
    const payload = await benchJpeg(640, 50_000);
    const send = async () => {
      const msg = await runtime.send(FLOW_IDS.publishSource, { payload });
      if (msg.error) throw new Error(JSON.stringify(msg.error));
    };
    await closedLoop(CONCURRENCY, (done) => done >= 200, send);
    collectGarbage();
    const before = process.cpuUsage();
    const result = await closedLoop(CONCURRENCY, (done) => done >= messages, send);
    const used = process.cpuUsage(before);
    if (result.errors) throw new Error(`${result.errors} messages failed: ${result.firstError}`);
    return (used.user + used.system) / result.count;
  } finally {
    await runtime.stop();
  }
}

function child(baseUrl: string, outbox: boolean, messages: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const process = fork(__filename, ['--child', baseUrl, String(outbox), String(messages)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    process.once('message', (micros: number) => resolve(micros));
    process.once('exit', (code) =>
      code ? reject(new Error(`the bench child exited with ${code}`)) : undefined,
    );
  });
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      entries: { type: 'string', default: '1000' },
      messages: { type: 'string', default: '3000' },
      child: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  if (values.child) {
    const [baseUrl = '', outbox, messages] = positionals;
    process.send?.(await cpuPerMessage(baseUrl, outbox === 'true', Number(messages)));
    return;
  }
  const emulator = await startEmulatorProcess({ engine: 'simple', https: false });
  try {
    const delivery: DeliveryFigure[] = [];
    for (const imageBytes of [50_000, 200_000]) {
      const figure = await deliveryRate(emulator.url, imageBytes, Number(values.entries));
      console.log(
        `outbox ${imageBytes / 1000} KB: kept ${figure.keptPerSecond.toFixed(0)}/s (each fsynced), ` +
          `delivered ${figure.deliveredPerSecond.toFixed(0)}/s once the server is back`,
      );
      delivery.push(figure);
    }
    const off: number[] = [];
    const on: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      off.push(await child(emulator.url, false, Number(values.messages)));
      on.push(await child(emulator.url, true, Number(values.messages)));
      console.log(
        `round ${round + 1}: CPU per message ${off.at(-1)?.toFixed(0)} µs (outbox off), ${on.at(-1)?.toFixed(0)} µs (on, empty)`,
      );
    }
    const cpu = { offMicros: median(off), onMicros: median(on), extraMicros: median(on) - median(off) };
    console.log(
      `fire-and-forget 50 KB, ${CONCURRENCY} in flight: ${cpu.offMicros.toFixed(0)} µs CPU per message with the ` +
        `outbox off, ${cpu.onMicros.toFixed(0)} µs with it on and empty (${cpu.extraMicros.toFixed(0)} µs extra)`,
    );
    mkdirSync(path.dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify({ delivery, cpu: { ...cpu, off, on } }, null, 2)}\n`);
  } finally {
    await emulator.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
