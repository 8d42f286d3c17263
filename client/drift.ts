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
 * one that shows only in some answers (a section only some people have) when one of those is among
 * the sampled, i.e. after SAMPLE_EVERY times as many answers as with every answer checked. Measured (CPU time, best of 7 rounds, on a loaded 2-core machine): a full check
 * of a 5-face publishWithResponse answer with every person section (5 KB) takes ~6 µs, against
 * ~25 µs for its JSON.parse and ~1 ms of client CPU for the whole request; a 100-person queryPeople
 * answer (141 KB) ~150 µs, against ~600 µs for its JSON.parse. Once sampling, that is ~0.4 and
 * ~10 µs per answer. Types are kept as bit masks and fields in Maps (compile()): comparing lists of
 * type names and looking fields up in objects took twice as long.
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
/** The most differences one client reports; more say nothing new about the contract. */
const MAX_REPORTS = 200;

export function jsonType(value: unknown): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const type = typeof value;
  if (type === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return type as JsonType;
}

// A value's JSON type as a bit, so that a check is one AND instead of a search of a list.
const BIT: Record<JsonType, number> = {
  null: 1,
  boolean: 2,
  integer: 4,
  number: 8,
  string: 16,
  array: 32,
  object: 64,
};

function typeBit(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return BIT.string;
    case 'number':
      return Number.isInteger(value) ? BIT.integer : BIT.number;
    case 'boolean':
      return BIT.boolean;
    case 'object':
      return value === null ? BIT.null : Array.isArray(value) ? BIT.array : BIT.object;
    default:
      return 0;
  }
}

/** A Shape ready for checking: types as a mask (0: any), fields in a Map. */
interface Compiled {
  mask: number;
  expected: string | undefined;
  fields: Map<string, Compiled> | undefined;
  required: readonly string[];
  items: Compiled | undefined;
  /** Neither fields nor items: nothing below it to check. */
  leaf: boolean;
}

const compiled = new WeakMap<Shape, Compiled>();

function compile(shape: Shape): Compiled {
  let done = compiled.get(shape);
  if (done) return done;
  const { type, fields, items, required = [] } = shape;
  // 'number' admits integers too.
  const mask = (type ?? []).reduce((bits, t) => bits | BIT[t] | (t === 'number' ? BIT.integer : 0), 0);
  done = {
    mask,
    expected: type?.join(' or '),
    fields: fields && new Map(Object.entries(fields).map(([name, field]) => [name, compile(field)])),
    required,
    items: items && compile(items),
    leaf: !fields && !items,
  };
  compiled.set(shape, done);
  return done;
}

type Found = (field: string, problem: DriftProblem, expected?: string, actual?: JsonType) => void;

const child = (path: string, name: string): string => (path === '' ? name : `${path}.${name}`);

/** Differences between one value and its shape, each handed to `found` (which may see one twice). */
export function compare(value: unknown, shape: Shape, found: Found): void {
  walk(value, compile(shape), found, '');
}

function walk(value: unknown, shape: Compiled, found: Found, path: string): void {
  const bit = typeBit(value);
  if (shape.mask !== 0 && (shape.mask & bit) === 0) {
    found(path, 'type', shape.expected, jsonType(value));
    return;
  }
  if (bit === BIT.array) {
    if (shape.items) {
      const itemPath = `${path}[]`;
      for (const item of value as unknown[]) walk(item, shape.items, found, itemPath);
    }
    return;
  }
  if (bit !== BIT.object) return;
  const record = value as Record<string, unknown>;
  const { fields } = shape;
  if (fields) {
    for (const name in record) {
      const field = fields.get(name);
      const item = record[name];
      if (field === undefined) found(child(path, name), 'unknown', undefined, jsonType(item));
      // A leaf's type is checked here, without building its path unless it differs.
      else if (!field.leaf) walk(item, field, found, child(path, name));
      else if (field.mask !== 0 && (field.mask & typeBit(item)) === 0) {
        found(child(path, name), 'type', field.expected, jsonType(item));
      }
    }
  }
  for (const name of shape.required) {
    if (!Object.hasOwn(record, name)) found(child(path, name), 'missing', fields?.get(name)?.expected);
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
      // The field names are the server's: a server that answers with ever new ones (a map keyed by
      // ids) would grow this set without end. Past the cap it has been reported enough.
      if (this.reported.has(key) || this.reported.size >= MAX_REPORTS) return;
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
