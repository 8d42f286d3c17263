/**
 * Property test of the outbox's files (nodes/lib/outbox.ts): whatever a crash, a bad disk or a
 * stray file leaves in its directory (a truncated entry, flipped bytes, garbage under an entry's
 * name, a header that lies about its length), opening it and taking entries out never throws; every
 * intact entry comes out once, in order, with its fields; every damaged one is reported and removed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { decodeEntry, encodeEntry, Outbox, serverIdentity, type OutboxEntry } from '../../nodes/lib/outbox';

const entryArbitrary: fc.Arbitrary<OutboxEntry> = fc.record({
  expanded: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  detectorName: fc.string({ maxLength: 40 }),
  ianaTimeZone: fc.string({ maxLength: 40 }),
  detectTimeUtc: fc.string({ maxLength: 40 }),
});

/** What can happen to one file: nothing, cut short, bytes changed, or replaced by other bytes. */
type Damage =
  | { kind: 'none' }
  | { kind: 'truncate'; keep: number }
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'garbage'; bytes: Uint8Array }
  | { kind: 'header-length'; length: number };

const damageArbitrary: fc.Arbitrary<Damage> = fc.oneof(
  fc.constant<Damage>({ kind: 'none' }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ maxLength: 200 }) }),
  fc.record({ kind: fc.constant('header-length' as const), length: fc.nat() }),
);

function damaged(data: Buffer, damage: Damage): Buffer {
  switch (damage.kind) {
    case 'none':
      return data;
    case 'truncate':
      return data.subarray(0, damage.keep % data.length);
    case 'flip': {
      const copy = Buffer.from(data);
      const at = damage.at % copy.length;
      copy[at] = (copy[at] ?? 0) ^ damage.mask;
      return copy;
    }
    case 'garbage':
      return Buffer.from(damage.bytes);
    case 'header-length': {
      const copy = Buffer.from(data);
      copy.writeUInt32BE(damage.length % 2 ** 32, 8);
      return copy;
    }
  }
}

/** Whether the damage left the bytes as they were (a flip never does; a header length may be the same). */
const intact = (data: Buffer, after: Buffer) => data.equals(after);

describe('property: outbox files', function () {
  this.timeout(120_000);

  it('decodeEntry gives back what encodeEntry wrote, and a reason (never a throw) for anything else', function () {
    fc.assert(
      fc.property(entryArbitrary, fc.nat(), damageArbitrary, (entry, storedAtMs, damage) => {
        const data = encodeEntry(entry, storedAtMs);
        const after = damaged(data, damage);
        const decoded = decodeEntry(after, 1);
        if (intact(data, after)) {
          assert.deepEqual(decoded, { ...entry, seq: 1, storedAtMs });
        } else {
          assert.equal(typeof decoded, 'string', 'a damaged entry is refused');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('an outbox directory with damaged files opens, gives out every intact entry in order, and reports the rest', async function () {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(entryArbitrary, damageArbitrary), { maxLength: 8 }),
        async (files) => {
          const dir = mkdtempSync(path.join(tmpdir(), 'outbox-property-'));
          try {
            const identity = serverIdentity('https://a.example', 'edge');
            writeFileSync(path.join(dir, 'server.json'), JSON.stringify({ identity }));
            const expected: string[] = [];
            files.forEach(([entry, damage], index) => {
              const data = encodeEntry(entry, 1000 + index);
              const after = damaged(data, damage);
              const name = `${String(index + 1).padStart(16, '0')}-${String(1000 + index).padStart(16, '0')}.entry`;
              writeFileSync(path.join(dir, name), after);
              if (intact(data, after)) expected.push(entry.detectTimeUtc);
            });
            let corrupt = 0;
            const outbox = await Outbox.open({
              dir,
              identity,
              maxBytes: 1024 * 1024,
              maxAgeMs: Number.MAX_SAFE_INTEGER,
              adopt: false,
              mode: 0o700,
              onDrop: (reason, count) => {
                assert.equal(reason, 'corrupt');
                corrupt += count;
              },
              now: () => 2000,
            });
            const got: string[] = [];
            for (let next = await outbox.next(); next; next = await outbox.next()) {
              got.push(next.detectTimeUtc);
              await outbox.delivered(next);
            }
            assert.deepEqual(got, expected);
            assert.equal(corrupt, files.length - expected.length);
            assert.deepEqual(
              readdirSync(dir).filter((name) => name !== 'server.json'),
              [],
              'nothing is left behind',
            );
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
