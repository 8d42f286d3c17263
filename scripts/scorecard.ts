/**
 * `npm run scorecard`: the Flow Library scorecard (`node-red-dev validate`) of this package, with
 * its catalogue request answered offline. The tool exits 0 even when checks fail, so this reads
 * its JSON report and fails, naming each failed check, when any check did.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');

export interface ScorecardCheck {
  test: boolean;
  [detail: string]: unknown;
}

export function runScorecard(): Record<string, ScorecardCheck> {
  const dir = mkdtempSync(path.join(tmpdir(), 'scorecard-'));
  const report = path.join(dir, 'scorecard.json');
  try {
    execFileSync(
      process.execPath,
      [
        '--require',
        path.join(__dirname, 'scorecard-offline.js'),
        require.resolve('node-red-dev/bin/run'),
        'validate',
        '--path',
        ROOT,
        '--output',
        report,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const { package: _package, ...checks } = JSON.parse(readFileSync(report, 'utf8')) as Record<
      string,
      ScorecardCheck
    >;
    return checks;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const failed = Object.entries(runScorecard()).filter(([, check]) => !check.test);
  if (failed.length) {
    console.error(`scorecard: failed ${failed.map(([id]) => id).join(', ')}`);
    process.exitCode = 1;
  } else console.log('scorecard: every check passed');
}
