/**
 * `npm run bench -- --quick` and `npm run bench:engine -- --quick` still work end to end: the
 * client bench's emulator process, embedded Node-RED, the three ways of sending, the report and its
 * JSON; the engine bench's phases and its JSON. They assert nothing about speed: CI machines are
 * too noisy for that, and the figures are the benchmarks' to report, not the tests' to judge.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/** Runs a bench script in quick mode with its JSON to `out`; resolves with what it printed. */
function runQuick(script: string, out: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'bench', script), '--quick', '--out', out],
      { cwd: ROOT, timeout: 140_000, maxBuffer: 16 * 1024 * 1024 },
      (err, text, errText) =>
        err ? reject(new Error(`${err.message}\n${errText}\n${text}`)) : resolve(text),
    );
  });
}

describe('the benchmarks, in quick mode', function () {
  this.timeout(150_000);
  let dir: string;

  before(function () {
    dir = mkdtempSync(path.join(tmpdir(), 'identities-bench-spec-'));
  });

  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('npm run bench: runs every case, prints the two ratio lines last and writes its JSON result', async function () {
    const out = path.join(dir, 'client.json');
    const stdout = await runQuick('index.ts', out);
    const lines = stdout.trim().split('\n');
    assert.match(lines.at(-2) ?? '', /^node\/client ratio: \d+(\.\d+)?$/);
    assert.match(lines.at(-1) ?? '', /^node\/limit ratio: \d+(\.\d+)?$/);

    const result = JSON.parse(readFileSync(out, 'utf8')) as {
      mode: string;
      headline: { nodeClientRatio: number; nodeLimitRatio: number };
      summaries: Record<string, Record<'A' | 'B' | 'C', { errors: number; msgsPerSec: { median: number } }>>;
      memory: { messages: number };
    };
    assert.equal(result.mode, 'quick');
    assert.ok(Number.isFinite(result.headline.nodeClientRatio) && result.headline.nodeClientRatio > 0);
    assert.ok(Number.isFinite(result.headline.nodeLimitRatio) && result.headline.nodeLimitRatio > 0);
    assert.deepEqual(Object.keys(result.summaries).sort(), [
      'lookup-50kb-c8',
      'publish-200kb-c1',
      'publish-200kb-c32',
      'publish-200kb-c8',
      'publish-50kb-c1',
      'publish-50kb-c32',
      'publish-50kb-c8',
    ]);
    for (const [id, ways] of Object.entries(result.summaries)) {
      for (const way of ['A', 'B', 'C'] as const) {
        assert.equal(ways[way].errors, 0, `${id} ${way}: failed requests`);
        assert.ok(ways[way].msgsPerSec.median > 0, `${id} ${way}: nothing measured`);
      }
    }
    assert.ok(result.memory.messages >= 100);
  });

  it('npm run bench:engine: measures every phase, on the engine and on the photos, and writes its JSON', async function () {
    const out = path.join(dir, 'engine.json');
    const stdout = await runQuick('engine.ts', out);
    assert.match(stdout, /^pool \/ 1 worker: \d+\.\d+x/m);
    const result = JSON.parse(readFileSync(out, 'utf8')) as {
      mode: string;
      cpuMsPerImage: { total: number };
      photoCpuMsPerImage: { total: number };
      stageMsPerImage: Record<string, number>;
      throughput: {
        oneWorker: { imagesPerSecond: number };
        pool: { imagesPerSecond: number };
        ratio: number;
      };
      targets: Record<string, boolean>;
    };
    assert.equal(result.mode, 'quick');
    for (const figure of [
      result.cpuMsPerImage.total,
      result.photoCpuMsPerImage.total,
      result.throughput.oneWorker.imagesPerSecond,
      result.throughput.pool.imagesPerSecond,
      result.throughput.ratio,
    ]) {
      assert.ok(Number.isFinite(figure) && figure > 0, `figure ${figure}`);
    }
    assert.deepEqual(Object.keys(result.stageMsPerImage).sort(), [
      'decode',
      'descriptor',
      'detect',
      'landmarks',
      'tensor',
    ]);
    assert.deepEqual(Object.keys(result.targets).sort(), [
      'coldStartUnder3s',
      'cpuPerImageUnder150ms',
      'poolAtLeast1_7x',
    ]);
  });
});
