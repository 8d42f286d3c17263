/**
 * `npm run bench -- --quick` still works end to end: emulator process, embedded Node-RED, the three
 * ways of sending, the report and its JSON. It asserts nothing about speed: CI machines are too
 * noisy for that, and the figures are the benchmark's to report, not the tests' to judge.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

describe('npm run bench -- --quick', function () {
  this.timeout(150_000);
  let dir: string;

  before(function () {
    dir = mkdtempSync(path.join(tmpdir(), 'identities-bench-spec-'));
  });

  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs every case, prints the two ratio lines last and writes its JSON result', async function () {
    const out = path.join(dir, 'result.json');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'bench', 'index.ts'), '--quick', '--out', out],
        { cwd: ROOT, timeout: 140_000, maxBuffer: 16 * 1024 * 1024 },
        (err, text, errText) =>
          err ? reject(new Error(`${err.message}\n${errText}\n${text}`)) : resolve(text),
      );
    });
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
});
