import assert from 'node:assert/strict';
import { runScorecard } from '../../scripts/scorecard';

describe('the Flow Library scorecard (node-red-dev validate)', function () {
  this.timeout(180_000);

  it('passes every check', () => {
    const checks = runScorecard();
    assert.ok(Object.keys(checks).length >= 10, `only ${Object.keys(checks).length} checks ran`);
    const failed = Object.entries(checks).filter(([, check]) => !check.test);
    assert.deepEqual(failed, []);
  });
});
