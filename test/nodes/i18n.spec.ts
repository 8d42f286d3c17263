import assert from 'node:assert/strict';
import { translate } from '../../nodes/lib/i18n';

describe('translate', () => {
  const fakeRed = (answer: (key: string) => string) => {
    const calls: string[] = [];
    return { calls, red: { _: (key: string) => (calls.push(key), answer(key)) } };
  };

  it('asks the catalog once per key and substitutions', () => {
    const { calls, red } = fakeRed((key) => `text of ${key}`);
    assert.equal(translate(red, 'spec.once'), 'text of spec.once');
    assert.equal(translate(red, 'spec.once'), 'text of spec.once');
    translate(red, 'spec.once', { count: 1 });
    translate(red, 'spec.once', { count: 2 });
    translate(red, 'spec.once', { count: 2 });
    assert.deepEqual(calls, ['spec.once', 'spec.once', 'spec.once']);
  });

  it('keeps remembering after many one-off texts (errors with what was found) filled its memory', () => {
    const { calls, red } = fakeRed((key) => `text of ${key}`);
    for (let i = 0; i < 2500; i++) translate(red, 'spec.error', { found: i });
    translate(red, 'spec.status');
    translate(red, 'spec.status');
    assert.equal(calls.filter((key) => key === 'spec.status').length, 1);
  });

  it('asks again while the catalog answers with the bare key', () => {
    let loaded = false;
    const { calls, red } = fakeRed((key) => (loaded ? 'Hallo' : key));
    assert.equal(translate(red, 'spec.later'), 'spec.later');
    loaded = true;
    assert.equal(translate(red, 'spec.later'), 'Hallo');
    assert.equal(calls.length, 2);
  });
});
