/**
 * Drift: where a server's answer differs from the contract. The vendor guide is cut short in places
 * and no real server is within our reach, so the client compares each parsed 200 answer with its
 * operation's shape (client/generated/shapes.ts, generated from openapi/identities.yaml) and reports
 * what it finds: a field the contract lacks, a required field that is missing, a value of another
 * JSON type. The answer itself is never changed: unknown fields are kept.
 *
 * Each difference is reported once per client (operation, field path and problem), so a server that
 * answers every person with an extra field gives one report, not one per message.
 *
 * Cost: an operation's answers are all checked until CHECKS_BEFORE_SAMPLING checks in a row found
 * nothing new; from then on one answer in SAMPLE_EVERY is, and a new finding makes it check every
 * answer again. A difference in the shape of every answer (a renamed field) is found at the first;
 * one that shows only in some answers (a section only some people have) at worst SAMPLE_EVERY times
 * later. Measured (test/client/drift.spec.ts prints it): a full check of a 5-face publishWithResponse
 * answer takes about a microsecond, a 100-person queryPeople answer some tens of microseconds, a
 * fraction of the JSON.parse before it; sampling keeps even that off a steady stream.
 */
import type { operations } from './generated/identities';
import { RESPONSE_SHAPES } from './generated/shapes';

/** A JSON value's type; 'integer' is a number without a fraction, which 'number' also admits. */
export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object' | 'null';

/** A runtime description of a JSON schema, as much as drift needs of it. */
export interface Shape {
  /** The types the contract allows; absent: any value. */
  readonly type?: readonly JsonType[];
  /** An object's known fields; absent: the contract names none, so no field is unknown. */
  readonly fields?: { readonly [name: string]: Shape };
  readonly required?: readonly string[];
  /** An array's items. */
  readonly items?: Shape;
}

export type DriftProblem = 'unknown' | 'missing' | 'type';

export interface DriftReport {
  operation: keyof operations;
  /**
   * Where, from the answer's top: `detectedFaces[].person.tags`, `[].tagName` for the items of an
   * array answer, `` for the answer itself.
   */
  field: string;
  /** unknown: a field the contract lacks; missing: a required field is absent; type: another JSON type. */
  problem: DriftProblem;
  /** The contract's JSON type(s), as `string or null` (missing and type). */
  expected?: string;
  /** The answer's JSON type (unknown and type). Never the value, which may be personal data. */
  actual?: JsonType;
}

/** Checks in a row without a new finding after which only one answer in SAMPLE_EVERY is checked. */
const CHECKS_BEFORE_SAMPLING = 20;
const SAMPLE_EVERY = 16;

export function jsonType(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const type = typeof value;
  if (type === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return type as JsonType;
}

function admits(allowed: readonly JsonType[], actual: JsonType): boolean {
  return allowed.includes(actual) || (actual === 'integer' && allowed.includes('number'));
}

const describe = (types: readonly JsonType[] | undefined): string | undefined => types?.join(' or ');

const child = (path: string, name: string): string => (path === '' ? name : `${path}.${name}`);

/** Differences between one value and its shape, each handed to `found` (which may see one twice). */
export function compare(
  value: unknown,
  shape: Shape,
  found: (field: string, problem: DriftProblem, expected?: string, actual?: JsonType) => void,
  path = '',
): void {
  const { type, fields, items, required } = shape;
  if (type) {
    const actual = jsonType(value);
    if (!admits(type, actual)) {
      found(path, 'type', describe(type), actual);
      return;
    }
  }
  if (items && Array.isArray(value)) {
    const itemPath = `${path}[]`;
    for (const item of value) compare(item, items, found, itemPath);
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  const record = value as Record<string, unknown>;
  if (fields) {
    for (const name in record) {
      const field = Object.hasOwn(fields, name) ? fields[name] : undefined;
      if (field === undefined) found(child(path, name), 'unknown', undefined, jsonType(record[name]));
      // A leaf (no type, or a scalar) is checked here, without building its path unless it differs.
      else if (field.fields || field.items) compare(record[name], field, found, child(path, name));
      else if (field.type && !admits(field.type, jsonType(record[name]))) {
        found(child(path, name), 'type', describe(field.type), jsonType(record[name]));
      }
    }
  }
  for (const name of required ?? []) {
    if (!Object.hasOwn(record, name)) found(child(path, name), 'missing', describe(fields?.[name]?.type));
  }
}

/** One client's drift watch: what it reported already, and how often each operation was checked. */
export class DriftWatch {
  private readonly reported = new Set<string>();
  private readonly checks = new Map<keyof operations, { quiet: number; skipped: number }>();

  constructor(private readonly onDrift: (report: DriftReport) => void) {}

  /** Compares an operation's parsed 200 answer with the contract (or, when sampling, may not). */
  check(operation: keyof operations, value: unknown): void {
    const shape = RESPONSE_SHAPES[operation];
    if (!shape) return;
    let state = this.checks.get(operation);
    if (!state) this.checks.set(operation, (state = { quiet: 0, skipped: 0 }));
    if (state.quiet >= CHECKS_BEFORE_SAMPLING && ++state.skipped < SAMPLE_EVERY) return;
    state.skipped = 0;
    let news = false;
    compare(value, shape, (field, problem, expected, actual) => {
      const key = `${operation} ${field} ${problem}`;
      if (this.reported.has(key)) return;
      this.reported.add(key);
      news = true;
      const report: DriftReport = { operation, field, problem };
      if (expected !== undefined) report.expected = expected;
      if (actual !== undefined) report.actual = actual;
      this.onDrift(report);
    });
    state.quiet = news ? 0 : state.quiet + 1;
  }
}
