/**
 * The vendor guide's endpoints (endpoints.json) and example requests (requests.json) as this
 * project restated them (see README.md), typed, with a checker that holds a JSON answer to the
 * shape the guide documents for it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'file' | 'any';
export type Format = 'guid' | 'date-time' | 'date-time-utc' | 'base64' | 'base64-jpeg' | 'duration';
/** Where the guide shows a fact: a table, only an example, or a sentence. */
export type Source = 'table' | 'example' | 'text';

/** A value's documented type: a JSON type, or a shape of endpoints.json, with what an example adds. */
export interface TypeSpec {
  type?: JsonType;
  /** A name in `shapes` of endpoints.json: its fields (and `complete`) stand here. */
  shape?: string;
  format?: Format;
  nullable?: boolean;
  fields?: FieldSpec[];
  items?: TypeSpec;
  /** Every field is listed: the guide shows the whole object, so any other field departs from it. */
  complete?: boolean;
  minItems?: number;
  /** Optional fields that this answer must have. */
  require?: string[];
  /** Fields that this answer must not have. */
  absent?: string[];
  /** Additions to the spec of some fields, by name. */
  with?: Record<string, TypeSpec>;
  note?: string;
}

export interface FieldSpec extends TypeSpec {
  name: string;
  /** In an answer: the field may be missing. */
  optional?: boolean;
  /** In a request: whether the guide calls the field required. */
  required?: boolean | 'not stated';
  default?: unknown;
  from?: Source;
}

export interface Shape {
  complete: boolean;
  note?: string;
  fields: FieldSpec[];
}

export interface Param {
  name: string;
  type: JsonType;
  format?: Format;
  required?: boolean | 'not stated';
  default?: unknown;
  from: Source;
  note?: string;
}

export type Permission =
  | { kind: 'anonymous' | 'authenticated' | 'not stated'; note?: string }
  | { kind: 'anyOf'; names: string[]; note?: string }
  | { kind: 'disputed'; byPage: Record<string, string[]>; note?: string };

export interface DocumentedResponse {
  status: number;
  /** Whether the guide names the status code (else it only shows the body). */
  statusShown: boolean;
  /** false: the guide shows no answer at all; what is here is the project's inference. */
  shown?: boolean;
  body: 'json' | 'empty' | 'jpeg' | 'file';
  json?: TypeSpec | null;
  savedAs?: string;
  note?: string;
}

export interface Endpoint {
  /** The project's name for the operation; the guide names none. */
  operationId: string;
  /** The page that documents the endpoint: the contract's x-source. */
  page: string;
  listedOn: string[];
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  pathParams: Param[];
  queryParams: Param[];
  body: {
    contentType: 'application/json' | 'multipart/form-data';
    fields: FieldSpec[];
    without?: string[];
    note?: string;
  } | null;
  /** The endpoint takes a body the guide does not describe. */
  bodyUnknown?: boolean;
  /** null: the guide shows no answer. */
  response: DocumentedResponse | null;
  responseNote?: string;
  /** null: no status codes are visible. */
  statusCodes: Record<string, string> | null;
  statusNote?: string;
  permission: Permission;
  /** publishWithResponse: the permissions each include* switch needs, any one of. */
  includePermissions?: Record<string, string[]>;
  /** What the guide does not say. */
  silent: string[];
}

export interface Page {
  title: string;
  url: string;
  exampleRequests: number;
  notes: string;
}

export interface Guide {
  about: string;
  pageBase: string;
  pages: Page[];
  shapes: Record<string, Shape>;
  endpoints: Endpoint[];
}

export type BodyValue =
  string | number | boolean | null | { $file: string } | { $now: true } | { $login: 'username' | 'password' };

export type FormPart = { name: string; file: string } | { name: string; value: string };

export interface ExampleRequest {
  id: string;
  page: string;
  sample: string;
  operationId: string;
  method: Endpoint['method'];
  path: string;
  /** A string is the guide's own value; null a placeholder it leaves open. */
  pathValues: Record<string, string | null>;
  query: Record<string, string | null>;
  auth: boolean;
  body:
    | { contentType: 'application/json'; json: Record<string, BodyValue> }
    | { contentType: 'multipart/form-data'; form: FormPart[] }
    | null;
  response: DocumentedResponse;
}

export interface Examples {
  about: string;
  baseUrl: string;
  notation: Record<string, string>;
  files: Record<string, string>;
  requests: ExampleRequest[];
}

const read = <T>(name: string): T => JSON.parse(readFileSync(path.join(__dirname, name), 'utf8')) as T;

export const GUIDE = read<Guide>('endpoints.json');
export const EXAMPLES = read<Examples>('requests.json');

export const endpointKey = (endpoint: { method: string; path: string }) =>
  `${endpoint.method} ${endpoint.path}`;

export function endpointOf(request: ExampleRequest): Endpoint {
  const endpoint = GUIDE.endpoints.find((e) => endpointKey(e) === endpointKey(request));
  if (!endpoint) throw new Error(`${request.id}: no endpoint ${endpointKey(request)} in endpoints.json`);
  return endpoint;
}

/** A spec with its shape put in: the shape's fields and completeness, then what the spec adds. */
export function resolveSpec(spec: TypeSpec): TypeSpec {
  if (!spec.shape) return spec;
  const shape = GUIDE.shapes[spec.shape];
  if (!shape) throw new Error(`no shape ${spec.shape} in endpoints.json`);
  const { shape: _name, ...rest } = spec;
  return { type: 'object', fields: shape.fields, complete: shape.complete, ...rest };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DURATION = /^(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d+)?$/;

function formatProblem(value: string, format: Format): string | undefined {
  switch (format) {
    case 'guid':
      return GUID.test(value) ? undefined : 'is not a GUID';
    case 'date-time':
    case 'date-time-utc':
      if (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value))) return 'is not an ISO 8601 date-time';
      return format === 'date-time-utc' && !/(Z|[+-]00:00)$/.test(value) ? 'is not in UTC' : undefined;
    case 'base64':
      return BASE64.test(value) ? undefined : 'is not base64';
    case 'base64-jpeg':
      if (!BASE64.test(value)) return 'is not base64';
      return Buffer.from(value, 'base64')
        .subarray(0, 3)
        .equals(Buffer.from([0xff, 0xd8, 0xff]))
        ? undefined
        : 'is base64 but not of a JPEG';
    case 'duration':
      return DURATION.test(value) ? undefined : 'is not a duration (days.hh:mm:ss)';
  }
}

const describe = (value: unknown) =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'object'
        ? 'an object'
        : `a ${typeof value}`;

function check(value: unknown, given: TypeSpec, where: string, problems: string[]): void {
  const spec = resolveSpec(given);
  if (value === null) {
    if (!spec.nullable) problems.push(`${where} is null`);
    return;
  }
  const type = spec.type ?? 'any';
  const wrongType = () => problems.push(`${where} is ${describe(value)}, not ${type}`);
  switch (type) {
    case 'any':
    case 'file':
      return;
    case 'string':
      if (typeof value !== 'string') return void wrongType();
      if (spec.format) {
        const problem = formatProblem(value, spec.format);
        if (problem) problems.push(`${where} ${problem}: ${JSON.stringify(value.slice(0, 60))}`);
      }
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) wrongType();
      return;
    case 'integer':
      if (!Number.isInteger(value)) wrongType();
      return;
    case 'boolean':
      if (typeof value !== 'boolean') wrongType();
      return;
    case 'array':
      if (!Array.isArray(value)) return void wrongType();
      if (value.length < (spec.minItems ?? 0)) {
        problems.push(`${where} has ${value.length} items, the example shows at least ${spec.minItems}`);
      }
      if (spec.items) value.forEach((item, i) => check(item, spec.items!, `${where}[${i}]`, problems));
      return;
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return void wrongType();
      const object = value as Record<string, unknown>;
      const fields = spec.fields ?? [];
      for (const field of fields) {
        const fieldSpec = { ...field, ...spec.with?.[field.name] };
        if (!(field.name in object)) {
          if (!field.optional || spec.require?.includes(field.name)) {
            problems.push(`${where}.${field.name} is missing`);
          }
          continue;
        }
        check(object[field.name], fieldSpec, `${where}.${field.name}`, problems);
      }
      for (const name of spec.absent ?? []) {
        if (name in object) problems.push(`${where}.${name} is there, but was not asked for`);
      }
      if (spec.complete) {
        const known = new Set(fields.map((field) => field.name));
        const extra = Object.keys(object).filter((name) => !known.has(name));
        if (extra.length > 0)
          problems.push(`${where} has fields the guide does not show: ${extra.join(', ')}`);
      }
      return;
    }
  }
}

/** What in a JSON value departs from its documented spec; empty when nothing does. */
export function checkJson(value: unknown, spec: TypeSpec, where = 'answer'): string[] {
  const problems: string[] = [];
  check(value, spec, where, problems);
  return problems;
}
