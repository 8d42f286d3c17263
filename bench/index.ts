/**
 * `npm run bench [-- --quick] [--rounds N] [--seconds S] [--engine simple|faceapi] [--out FILE]`
 *
 * Publishing camera images through Node-RED (A), through client/ called directly (B), and through
 * an undici Pool sending prebuilt bodies (C, the limit), against the emulator on plain-HTTP
 * loopback with its face cache warm. The three run interleaved in rounds (A B C per case, every
 * round), so that the shared machine's drift falls on all three alike, and only ratios of medians
 * taken in the same run are compared. The emulator runs in a child process: the CPU counted here
 * is the client side's alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { multipart, jsonWithBase64, type BuiltBody } from '../client/bodies';
import { IdentitiesClient, type PublishRequest } from '../client/client';
import { benchJpeg } from './images';
import {
  closedLoop,
  collectGarbage,
  machineBusySeconds,
  median,
  percentile,
  RssSampler,
  type LoopResult,
} from './measure';
import { FLOW_IDS, startRuntime, type EmbeddedRuntime } from './runtime';
import { ROOT, startEmulatorProcess, type EmulatorProcess } from '../scripts/runtime';

const MB = 1024 * 1024;
const EDGE = { username: 'edge', password: 'edge' };
const ADMIN = { username: 'admin', password: 'admin' };
const DETECTOR = 'BenchCam';
const MAX_CONCURRENCY = 32;
/** Server utilisation (of its one event-loop core) above which the emulator, not the client, sets the pace. */
const EMULATOR_BOUND_UTILISATION = 0.85;
/** The share of all cores busy (this process, the emulator and others) at which no core is left idle. */
const SATURATED = 0.9;

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

type Variant = 'A' | 'B' | 'C';
const VARIANTS: readonly Variant[] = ['A', 'B', 'C'];
const VARIANT_NAMES: Record<Variant, string> = {
  A: 'Node-RED -> identities node',
  B: 'client/ directly',
  C: 'undici Pool, prebuilt body',
};

interface BenchCase {
  id: string;
  kind: 'publish' | 'lookup';
  imageKb: 50 | 200;
  concurrency: number;
}

interface Run {
  msgsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  clientCpuUsPerReq: number;
  serverCpuUsPerReq: number;
  /** Of the emulator's one event-loop core. */
  serverUtilisation: number;
  /** Cores the benchmark process kept busy. */
  clientUtilisation: number;
  /** Cores busy with other processes (not this benchmark, not the emulator) during the run. */
  otherCores: number | undefined;
  peakRssMb: number;
  requests: number;
  errors: number;
}

interface Ratios {
  aOverB: number;
  aOverC: number;
  bOverC: number;
  p50DeltaMs: number;
  /** Why the emulator, not the client, set the pace in C; undefined when it did not. */
  emulatorBound: string | undefined;
}

/** A case's runs in one: the median of each figure (throughput also its range). */
interface Summary extends Omit<Run, 'msgsPerSec' | 'requests'> {
  runs: number;
  msgsPerSec: { median: number; min: number; max: number };
}

function cases(): BenchCase[] {
  const list: BenchCase[] = [];
  for (const imageKb of [200, 50] as const) {
    for (const concurrency of [1, 8, 32]) {
      list.push({ id: `publish-${imageKb}kb-c${concurrency}`, kind: 'publish', imageKb, concurrency });
    }
  }
  list.push({ id: 'lookup-50kb-c8', kind: 'lookup', imageKb: 50, concurrency: 8 });
  return list;
}

/**
 * Whether the emulator, not the client, set the pace of the limit run C: its one event loop was
 * (nearly) always busy, or the machine had no idle core left and the emulator spent more CPU per
 * request than the client did, so that any client would have waited on it.
 */
function emulatorBottleneck(limit: Summary): string | undefined {
  const busy = `${fixed(limit.serverUtilisation * 100)}% busy`;
  if (limit.serverUtilisation >= EMULATOR_BOUND_UTILISATION) return `its event loop ${busy} under C`;
  const used = limit.serverUtilisation + limit.clientUtilisation + (limit.otherCores ?? 0);
  if (used >= os.availableParallelism() * SATURATED && limit.serverCpuUsPerReq > limit.clientCpuUsPerReq) {
    return `${busy}, machine saturated (${fixed(used, 1)} cores), ${fixed(limit.serverCpuUsPerReq / limit.clientCpuUsPerReq, 1)}x the client's CPU per request`;
  }
  return undefined;
}

// ---- the three ways to send ----

type Issue = () => Promise<void>;

interface Senders {
  issue(variant: Variant, benchCase: BenchCase): Issue;
}

function publishRequest(image: Buffer): PublishRequest {
  // What identities-publish sends with its default settings: zone and time left to the client.
  return {
    expanded: image,
    detectorName: DETECTOR,
    largestFaceOnly: true,
    allowDoubleDetection: false,
    includePerson: false,
    includeNames: false,
    includeAddresses: false,
    includeTags: false,
    includeFields: false,
  };
}

async function undiciToken(pool: Pool): Promise<string> {
  const { statusCode, body } = await pool.request({
    path: '/api/v1/authenticate',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(EDGE),
  });
  const text = await body.text();
  if (statusCode !== 200) throw new Error(`authenticate: HTTP ${statusCode}`);
  const parsed = JSON.parse(text) as { token?: string; accessToken?: string };
  const token = parsed.token ?? parsed.accessToken;
  if (!token) throw new Error('authenticate: no token');
  return token;
}

async function makeSenders(
  images: Record<50 | 200, Buffer>,
  runtime: EmbeddedRuntime,
  client: IdentitiesClient,
  pool: Pool,
): Promise<Senders> {
  const token = await undiciToken(pool);
  // C sends the bytes B would send, built once: the same fields, a fixed time instead of "now".
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const prebuilt = (kind: BenchCase['kind'], image: Buffer): BuiltBody => {
    if (kind === 'lookup') {
      return multipart({
        CroppedAligned: { data: image, fileName: 'cropped-aligned.jpg', contentType: 'image/jpeg' },
      });
    }
    const { expanded: _expanded, ...fields } = publishRequest(image);
    return jsonWithBase64(
      { ...fields, ianaTimeZone: zone, detectTimeUtc: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      { expanded: image },
    );
  };
  const bodies = new Map<string, BuiltBody>();
  const path = { publish: '/api/v1/faceEdge/publishWithResponse', lookup: '/api/v1/faceEdge/lookup' };

  return {
    issue(variant, benchCase) {
      const image = images[benchCase.imageKb];
      const { kind } = benchCase;
      if (variant === 'A') {
        const source = kind === 'publish' ? FLOW_IDS.publishSource : FLOW_IDS.lookupSource;
        return async () => {
          const msg = await runtime.send(source, { payload: image });
          if (msg.error) throw new Error(`A: ${JSON.stringify(msg.error).slice(0, 200)}`);
        };
      }
      if (variant === 'B') {
        if (kind === 'lookup') {
          return async () => {
            await client.lookup({ croppedAligned: image });
          };
        }
        return async () => {
          await client.publishWithResponse(publishRequest(image));
        };
      }
      const key = `${kind}-${benchCase.imageKb}`;
      let body = bodies.get(key);
      if (!body) bodies.set(key, (body = prebuilt(kind, image)));
      const headers = {
        'content-type': body.contentType,
        authorization: `Bearer ${token}`,
        accept: 'application/json, */*',
      };
      const data = body.data;
      return async () => {
        const response = await pool.request({ path: path[kind], method: 'POST', headers, body: data });
        await response.body.arrayBuffer();
        if (response.statusCode !== 200) throw new Error(`C: HTTP ${response.statusCode}`);
      };
    },
  };
}

// ---- one measured run ----

async function measure(
  emulator: EmulatorProcess,
  concurrency: number,
  seconds: number,
  issue: Issue,
): Promise<Run> {
  collectGarbage();
  // Warm-up: connections open, code paths optimised, every chain busy once.
  await closedLoop(concurrency, (n) => n >= Math.max(20, concurrency * 3), issue);
  collectGarbage();
  const serverBefore = (await emulator.stats()).cpuMicros;
  const machineBefore = machineBusySeconds();
  const rss = new RssSampler();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1000;
  const loop: LoopResult = await closedLoop(concurrency, () => performance.now() >= end, issue);
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  const peakRss = rss.stop();
  const machineAfter = machineBusySeconds();
  const serverMicros = (await emulator.stats()).cpuMicros - serverBefore;
  const clientMicros = cpu.user + cpu.system;
  const sorted = loop.latenciesMs.sort((a, b) => a - b);
  if (loop.errors > 0) console.error(`  ${loop.errors} errors, first: ${loop.firstError}`);
  const otherCores =
    machineBefore === undefined || machineAfter === undefined
      ? undefined
      : Math.max(0, (machineAfter - machineBefore) * 1e6 - clientMicros - serverMicros) / (wallMs * 1000);
  return {
    msgsPerSec: (loop.count / wallMs) * 1000,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    clientCpuUsPerReq: clientMicros / loop.count,
    serverCpuUsPerReq: serverMicros / loop.count,
    serverUtilisation: serverMicros / (wallMs * 1000),
    clientUtilisation: clientMicros / (wallMs * 1000),
    otherCores,
    peakRssMb: peakRss / MB,
    requests: loop.count,
    errors: loop.errors,
  };
}

function summarize(runs: Run[]): Summary {
  const rates = runs.map((run) => run.msgsPerSec);
  const others = runs.map((run) => run.otherCores).filter((v): v is number => v !== undefined);
  return {
    runs: runs.length,
    msgsPerSec: { median: median(rates), min: Math.min(...rates), max: Math.max(...rates) },
    p50Ms: median(runs.map((run) => run.p50Ms)),
    p99Ms: median(runs.map((run) => run.p99Ms)),
    clientCpuUsPerReq: median(runs.map((run) => run.clientCpuUsPerReq)),
    serverCpuUsPerReq: median(runs.map((run) => run.serverCpuUsPerReq)),
    serverUtilisation: median(runs.map((run) => run.serverUtilisation)),
    clientUtilisation: median(runs.map((run) => run.clientUtilisation)),
    otherCores: others.length ? median(others) : undefined,
    peakRssMb: Math.max(...runs.map((run) => run.peakRssMb)),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
  };
}

// ---- memory: no buffer outlives its message ----

interface MemoryResult {
  messages: number;
  heapBaselineMb: number;
  heapAfterGcMb: number;
  rssAfterFirstMb: number;
  peakRssMb: number;
  rssGrowthMb: number;
}

async function memoryRun(runtime: EmbeddedRuntime, image: Buffer, messages: number): Promise<MemoryResult> {
  const first = Math.min(1000, Math.floor(messages / 20));
  const send = async () => {
    const msg = await runtime.send(FLOW_IDS.publishSource, { payload: image });
    if (msg.error) throw new Error('memory run: a message failed');
  };
  collectGarbage();
  collectGarbage();
  const heapBaseline = process.memoryUsage().heapUsed;
  await closedLoop(8, (n) => n >= first, send);
  const rssAfterFirst = process.memoryUsage.rss();
  const rss = new RssSampler(10);
  const loop = await closedLoop(8, (n) => n >= messages - first, send);
  const peak = rss.stop();
  if (loop.errors > 0) throw new Error(`memory run: ${loop.errors} failed messages (${loop.firstError})`);
  // A later request's buffers may still sit in a socket's free list for a tick: settle, then collect.
  await new Promise((resolve) => setTimeout(resolve, 200));
  collectGarbage();
  collectGarbage();
  const heapAfter = process.memoryUsage().heapUsed;
  return {
    messages,
    heapBaselineMb: heapBaseline / MB,
    heapAfterGcMb: heapAfter / MB,
    rssAfterFirstMb: rssAfterFirst / MB,
    peakRssMb: peak / MB,
    rssGrowthMb: (peak - rssAfterFirst) / MB,
  };
}

// ---- the report ----

function table(rows: string[][]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) => row.map((cell, column) => cell.padStart(widths[column] ?? 0)).join('  '))
    .join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      engine: { type: 'string', default: 'faceapi' },
      out: { type: 'string' },
      'memory-messages': { type: 'string' },
    },
  });
  const quick = values.quick;
  const rounds = Number(values.rounds ?? (quick ? 2 : 5));
  const seconds = Number(values.seconds ?? (quick ? 0.3 : 1.5));
  const memoryMessages = Number(values['memory-messages'] ?? (quick ? 2000 : 20_000));
  const engine = values.engine === 'simple' ? 'simple' : 'faceapi';
  const out =
    values.out ?? path.join(ROOT, 'bench', 'results', quick ? 'client-quick.tmp.json' : 'client.json');
  if (!(rounds >= 1 && seconds > 0 && memoryMessages >= 100))
    throw new Error('bad --rounds, --seconds or --memory-messages');

  const startedAt = new Date();
  const loadBefore = os.loadavg();
  console.log(
    `bench: ${quick ? 'quick' : 'full'} mode, ${rounds} rounds x ${seconds} s per run; node ${process.version}, ` +
      `${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? '?'}), load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
  );
  console.log(
    `emulator: separate process, plain HTTP on loopback, ${engine} engine, results cached by image hash`,
  );

  const images = { 200: await benchJpeg(640, 200 * 1024), 50: await benchJpeg(320, 50 * 1024) } as const;
  // Plain HTTP: TLS would add the same record cost to both sides and blur the client's figure.
  const emulator = await startEmulatorProcess({ engine, https: false });
  const baseUrl = emulator.url;
  const client = new IdentitiesClient({ baseUrl, ...EDGE, maxSockets: MAX_CONCURRENCY });
  const pool = new Pool(baseUrl, { connections: MAX_CONCURRENCY, pipelining: 1, keepAliveTimeout: 60_000 });
  let runtime: EmbeddedRuntime | undefined;
  try {
    // The lookup face is enrolled, so lookup answers with a person (200), as in production.
    const admin = new IdentitiesClient({ baseUrl, ...ADMIN });
    await admin.faceEnroll({ faceImage: images[50], forceEnrollment: true }).catch((err: unknown) => {
      console.log(`note: enrolling the lookup face failed (${String(err)}); lookup answers "no match"`);
    });
    admin.close();
    // Warm the engine's cache: every image once through detection and once as a cropped face.
    for (const image of [images[200], images[50]]) {
      await client.publishWithResponse(publishRequest(image));
      await client.lookup({ croppedAligned: image });
    }
    runtime = await startRuntime({ baseUrl, ...EDGE, maxConcurrent: MAX_CONCURRENCY });
    const senders = await makeSenders(images, runtime, client, pool);

    const list = cases();
    const runs = new Map<string, Run[]>();
    for (let round = 1; round <= rounds; round++) {
      const roundStart = performance.now();
      for (const benchCase of list) {
        for (const variant of VARIANTS) {
          const run = await measure(
            emulator,
            benchCase.concurrency,
            seconds,
            senders.issue(variant, benchCase),
          );
          const key = `${benchCase.id}/${variant}`;
          runs.set(key, [...(runs.get(key) ?? []), run]);
        }
      }
      console.log(
        `round ${round}/${rounds} done in ${((performance.now() - roundStart) / 1000).toFixed(0)} s`,
      );
    }

    const memory = await memoryRun(runtime, images[200], memoryMessages);
    const serverRss = (await emulator.stats()).rss / MB;
    const loadAfter = os.loadavg();

    // ---- report ----
    const summaries: Record<string, Record<Variant, Summary>> = {};
    for (const benchCase of list) {
      const byVariant = {} as Record<Variant, Summary>;
      for (const variant of VARIANTS)
        byVariant[variant] = summarize(runs.get(`${benchCase.id}/${variant}`) ?? []);
      summaries[benchCase.id] = byVariant;
    }
    const summaryOf = (id: string): Record<Variant, Summary> => {
      const found = summaries[id];
      if (!found) throw new Error(`no results for ${id}`);
      return found;
    };
    const rows: string[][] = [
      [
        'case',
        'way',
        'msgs/s median',
        'min-max',
        'p50 ms',
        'p99 ms',
        'client CPU us/req',
        'emulator CPU us/req',
        'emulator busy',
        'peak RSS MB',
        'others cores',
      ],
    ];
    for (const benchCase of list) {
      for (const variant of VARIANTS) {
        const s = summaryOf(benchCase.id)[variant];
        rows.push([
          variant === 'A' ? benchCase.id : '',
          variant,
          fixed(s.msgsPerSec.median),
          `${fixed(s.msgsPerSec.min)}-${fixed(s.msgsPerSec.max)}`,
          fixed(s.p50Ms, 2),
          fixed(s.p99Ms, 2),
          fixed(s.clientCpuUsPerReq),
          fixed(s.serverCpuUsPerReq),
          `${fixed(s.serverUtilisation * 100)}%`,
          fixed(s.peakRssMb),
          s.otherCores === undefined ? '-' : fixed(s.otherCores, 2),
        ]);
      }
    }
    console.log('');
    console.log(
      `A: ${VARIANT_NAMES.A}; B: ${VARIANT_NAMES.B}; C: ${VARIANT_NAMES.C}. Medians of ${rounds} rounds.`,
    );
    console.log(table(rows));

    console.log('');
    const ratioRows: string[][] = [['case', 'A/B', 'A/C', 'B/C', 'A-B p50 ms', 'bottleneck']];
    const ratios: Record<string, Ratios> = {};
    const ratioOf = (id: string): Ratios => {
      const found = ratios[id];
      if (!found) throw new Error(`no ratios for ${id}`);
      return found;
    };
    for (const benchCase of list) {
      const { A, B, C } = summaryOf(benchCase.id);
      const aOverB = A.msgsPerSec.median / B.msgsPerSec.median;
      const aOverC = A.msgsPerSec.median / C.msgsPerSec.median;
      const bOverC = B.msgsPerSec.median / C.msgsPerSec.median;
      const emulatorBound = emulatorBottleneck(C);
      ratios[benchCase.id] = { aOverB, aOverC, bOverC, p50DeltaMs: A.p50Ms - B.p50Ms, emulatorBound };
      ratioRows.push([
        benchCase.id,
        fixed(aOverB, 3),
        fixed(aOverC, 3),
        fixed(bOverC, 3),
        fixed(A.p50Ms - B.p50Ms, 3),
        emulatorBound ? `emulator: ${emulatorBound}` : 'client',
      ]);
    }
    console.log(table(ratioRows));

    console.log('');
    console.log('emulator capacity for a cached image (its one event loop, from its CPU per request):');
    for (const benchCase of list.filter((c) => c.concurrency === 8)) {
      const { C } = summaryOf(benchCase.id);
      console.log(
        `  ${benchCase.id.replace(/-c\d+$/, '')}: ${fixed(C.serverCpuUsPerReq)} us CPU per request -> at most ` +
          `${fixed(1e6 / C.serverCpuUsPerReq)} req/s; C served ${fixed(summaries[benchCase.id.replace(/c8$/, 'c32')]?.C.msgsPerSec.median ?? C.msgsPerSec.median)} req/s at its highest concurrency`,
      );
    }
    const emulatorBoundCases = Object.entries(ratios)
      .filter(([, r]) => r.emulatorBound)
      .map(([id]) => id);
    console.log(
      emulatorBoundCases.length
        ? `the emulator, not the client, is the bottleneck in: ${emulatorBoundCases.join(', ')} (compare client CPU per request there)`
        : 'the emulator was not the bottleneck in any case',
    );

    const others = list
      .flatMap((c) => VARIANTS.map((v) => summaryOf(c.id)[v].otherCores))
      .filter((v): v is number => v !== undefined);
    console.log(
      `load from other processes: median ${fixed(median(others), 2)} cores, max ${fixed(Math.max(...others), 2)} of ${os.availableParallelism()}; ` +
        `load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(2)).join(' ')} after`,
    );

    console.log('');
    console.log(
      `memory (A, 200 KB, concurrency 8, ${memory.messages} messages): RSS ${fixed(memory.rssAfterFirstMb)} MB after the first ` +
        `${Math.min(1000, Math.floor(memory.messages / 20))}, peak ${fixed(memory.peakRssMb)} MB (+${fixed(memory.rssGrowthMb, 1)} MB); ` +
        `heap ${fixed(memory.heapBaselineMb, 1)} MB before, ${fixed(memory.heapAfterGcMb, 1)} MB after GC ` +
        `(${memory.heapAfterGcMb - memory.heapBaselineMb >= 0 ? '+' : ''}${fixed(memory.heapAfterGcMb - memory.heapBaselineMb, 2)} MB); emulator RSS ${fixed(serverRss)} MB`,
    );
    for (const kb of [200, 50]) {
      const id = `publish-${kb}kb-c1`;
      console.log(
        `latency added by Node-RED and the node at concurrency 1, ${kb} KB: ${fixed(ratioOf(id).p50DeltaMs, 3)} ms at p50`,
      );
    }

    const result = {
      startedAt: startedAt.toISOString(),
      mode: quick ? 'quick' : 'full',
      machine: {
        node: process.version,
        cores: os.availableParallelism(),
        cpu: os.cpus()[0]?.model,
        loadAverageBefore: loadBefore,
        loadAverageAfter: loadAfter,
      },
      emulator: { transport: 'http (loopback)', engine, process: 'separate', rssMb: serverRss },
      rounds,
      secondsPerRun: seconds,
      cases: list,
      summaries,
      ratios,
      memory,
      runs: Object.fromEntries(runs),
      headline: {
        nodeClientRatio: ratioOf('publish-200kb-c8').aOverB,
        nodeLimitRatio: ratioOf('publish-200kb-c8').aOverC,
      },
    };
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`results: ${path.relative(process.cwd(), out)}`);
    console.log(`node/client ratio: ${result.headline.nodeClientRatio.toFixed(3)}`);
    console.log(`node/limit ratio: ${result.headline.nodeLimitRatio.toFixed(3)}`);
  } finally {
    await runtime?.stop();
    client.close();
    await pool.close();
    await emulator.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
