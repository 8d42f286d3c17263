import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRetryAfter } from '../../client/http';
import { outcome, utf16String } from './support';

const digit = fc.constantFrom(...'0123456789');
const NOW = Date.UTC(2026, 5, 16, 18, 32, 5);

/** Dates as servers write them (IMF-fixdate), and as they should not (ISO, RFC 850, asctime). */
const httpDate = fc
  .tuple(
    fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }),
    fc.constantFrom('utc', 'iso', 'string'),
  )
  .map(([date, format]) =>
    format === 'utc' ? date.toUTCString() : format === 'iso' ? date.toISOString() : date.toString(),
  );

const header = fc.oneof(
  fc.string(),
  utf16String(40),
  fc.stringMatching(/^\s*\d{1,20}\s*$/),
  fc.nat().map(String),
  fc.constantFrom('', ' ', '-1', '+5', '1.5', '1e3', '0x10', '٣', 'NaN', 'Infinity', '0', '00', ' 7 '),
  httpDate,
);

const isDelay = (value: number | undefined) => value === undefined || (Number.isFinite(value) && value >= 0);

describe('property: Retry-After', () => {
  it('any header value: undefined or a finite number of ms >= 0, never a throw', () => {
    fc.assert(
      fc.property(
        fc.option(header, { nil: undefined }),
        fc.integer({ min: 0, max: 8.64e15 }),
        (value, now) => {
          const result = outcome(() => parseRetryAfter(value, now));
          assert.ok(result.ok);
          assert.ok(isDelay(result.value), `${JSON.stringify(value)} gave ${result.value}`);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('seconds (up to 300 digits) are read as seconds, around any whitespace', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{1,300}$/), fc.constantFrom('', ' ', '\t'), (digits, pad) => {
        assert.equal(parseRetryAfter(`${pad}${digits}${pad}`, NOW), Number(digits) * 1000);
      }),
      { numRuns: 2000 },
    );
  });

  it('an HTTP date is the time until it, or 0 once it is past', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }), (date) => {
        const text = date.toUTCString();
        assert.equal(parseRetryAfter(text, NOW), Math.max(0, Date.parse(text) - NOW));
      }),
      { numRuns: 2000 },
    );
  });

  // Number() of 309 or more digits is Infinity: such a value is no usable delay.
  it('seconds of any length: a finite number of ms, or undefined', () => {
    fc.assert(
      fc.property(fc.string({ unit: digit, minLength: 1, maxLength: 1000, size: 'max' }), (digits) => {
        assert.ok(isDelay(parseRetryAfter(digits, NOW)), `${digits.length} digits`);
      }),
      // Shrinking a 1000-digit string takes a minute; the length alone says enough.
      { numRuns: 500, endOnFailure: true },
    );
  });
});
