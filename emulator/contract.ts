/**
 * The emulator's routes and request validation, both derived from openapi/identities.yaml: every
 * operation of the contract is routed, and what the contract forbids is answered with a 400 that
 * says what was wrong. Tests use `validateResponse` to hold the emulator's answers to the contract.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

export const CONTRACT_PATH = path.join(__dirname, '..', 'openapi', 'identities.yaml');
const CONTRACT_ID = 'https://econnect.invalid/identities.yaml';

type JsonSchema = Record<string, unknown>;

interface ParameterSpec {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: JsonSchema;
}

interface OperationSpec {
  operationId: string;
  security?: unknown[];
  parameters?: (ParameterSpec | { $ref: string })[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, unknown>;
  'x-permission'?: string[];
  'x-permission-all'?: string[];
  'x-include-permissions'?: Record<string, string[]>;
  'x-rejected-image-status'?: number;
}

interface Contract {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema>; parameters: Record<string, ParameterSpec> };
}

export type BodyKind = 'json' | 'multipart' | 'none';

export interface Route {
  operationId: string;
  method: string;
  template: string;
  /** null: anonymous; []: any signed-in user; else any one of these. */
  permissions: string[] | null;
  /** Besides `permissions`: every one of these (`x-permission-all`). */
  permissionsAll: string[];
  /** For includePerson: the permissions each include* switch needs, any one of. */
  includePermissions: Record<string, string[]>;
  bodyKind: BodyKind;
  /** The status of a rejected (empty, undecodable, face-less) image: `x-rejected-image-status`, else 400. */
  rejectedImageStatus: number;
  /** Properties of the JSON body sent as base64, with the message for an empty one. */
  base64Fields: { name: string; emptyMessage: string | undefined }[];
  /** Multipart parts that must be present. */
  requiredParts: string[];
  match(pathname: string): Record<string, string> | undefined;
  validateParams(values: {
    path: Record<string, string>;
    query: Record<string, unknown>;
  }): string | undefined;
  validateBody(body: unknown): string | undefined;
  /** Multipart text parts against their schemas (presence is checked with requiredParts). */
  validateParts(fields: Record<string, string>): string | undefined;
}

/** The HTTP methods the contract uses, as OpenAPI path items name them. */
export const METHODS = ['get', 'put', 'post', 'delete'] as const;

/** Any one of these permissions (`[]`: any signed-in user), or null for an anonymous operation. */
export function operationPermissions(op: {
  security?: unknown[];
  'x-permission'?: string[];
}): string[] | null {
  return Array.isArray(op.security) && op.security.length === 0 ? null : (op['x-permission'] ?? []);
}

function describeErrors(where: string, errors: ErrorObject[] | null | undefined): string {
  const first = errors?.[0];
  if (!first) return `${where} is invalid`;
  const at = where + first.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.');
  if (first.keyword === 'required') return `${at}.${String(first.params.missingProperty)} is required`;
  if (first.keyword === 'additionalProperties') {
    return `${at} has an unknown property ${String(first.params.additionalProperty)}`;
  }
  return `${at} ${first.message ?? 'is invalid'}`;
}

/** A schema whose local $refs point into the registered contract document, so ajv can resolve them. */
function absolutize<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(absolutize) as T;
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith('#')
        ? `${CONTRACT_ID}${value}`
        : absolutize(value),
    ]),
  ) as T;
}

/** Every `x-` key anywhere in a document. */
function extensionKeywords(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((item) => extensionKeywords(item, found));
  else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key.startsWith('x-')) found.add(key);
      extensionKeywords(value, found);
    }
  }
  return found;
}

function templateMatcher(template: string): (pathname: string) => Record<string, string> | undefined {
  const names: string[] = [];
  const pattern = template
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (param?.[1]) {
        names.push(param[1]);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  // ASP.NET Core routes ignore case: /api/v1/tags reaches the Tags controller.
  const regex = new RegExp(`^${pattern}/?$`, 'i');
  return (pathname) => {
    const found = regex.exec(pathname);
    if (!found) return undefined;
    const params: Record<string, string> = {};
    names.forEach((name, i) => {
      params[name] = decodeURIComponent(found[i + 1] ?? '');
    });
    return params;
  };
}

export class ContractRoutes {
  readonly routes: Route[];
  private readonly ajv: Ajv2020;
  private readonly coercingAjv: Ajv2020;
  private readonly contract: Contract;
  private readonly responseValidators = new Map<string, ValidateFunction | null>();

  constructor(contractPath = CONTRACT_PATH) {
    this.contract = parse(readFileSync(contractPath, 'utf8')) as Contract;
    // Annotations ajv's strict mode must know: every `x-` keyword the contract uses, and components.
    const vocabulary = ['components', ...extensionKeywords(this.contract)];
    const options = { strict: true, allowUnionTypes: true, allErrors: false } as const;
    this.ajv = addFormats(new Ajv2020(options)).addVocabulary(vocabulary);
    this.coercingAjv = addFormats(
      new Ajv2020({ ...options, coerceTypes: true, useDefaults: true }),
    ).addVocabulary(vocabulary);
    const document = { $id: CONTRACT_ID, components: { schemas: this.contract.components.schemas } };
    this.ajv.addSchema(document);
    this.coercingAjv.addSchema(document);
    this.routes = this.buildRoutes();
  }

  /** The route for a method and path, or why there is none (404 no such path, 405 other method). */
  find(
    method: string,
    pathname: string,
  ): { route: Route; params: Record<string, string> } | { status: 404 | 405 } {
    let pathKnown = false;
    for (const route of this.routes) {
      const params = route.match(pathname);
      if (!params) continue;
      if (route.method === method) return { route, params };
      pathKnown = true;
    }
    return { status: pathKnown ? 405 : 404 };
  }

  /** For tests: does a response body have the documented shape? undefined when it does. */
  validateResponse(operationId: string, status: number, body: unknown): string | undefined {
    const key = `${operationId} ${status}`;
    let validate = this.responseValidators.get(key);
    if (validate === undefined) {
      let response = this.operation(operationId).responses[String(status)] as
        { $ref?: string; content?: Record<string, { schema: JsonSchema }> } | undefined;
      if (!response) return `status ${status} is not documented for ${operationId}`;
      if (response.$ref) response = this.resolve(response.$ref) as typeof response;
      const content = response?.content ?? {};
      const schema = (content['application/json'] ?? content['application/problem+json'])?.schema;
      validate = schema ? this.ajv.compile(absolutize(schema)) : null;
      this.responseValidators.set(key, validate);
    }
    if (validate === null) {
      return body === undefined || body === ''
        ? undefined
        : `${operationId} ${status} has no documented body`;
    }
    return validate(body) ? undefined : describeErrors('response', validate.errors);
  }

  operation(operationId: string): OperationSpec {
    for (const item of Object.values(this.contract.paths)) {
      for (const method of METHODS) {
        const op = item[method] as OperationSpec | undefined;
        if (op?.operationId === operationId) return op;
      }
    }
    throw new Error(`no operation ${operationId} in the contract`);
  }

  private resolve(ref: string): unknown {
    return ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], this.contract);
  }

  /** An object schema's properties and required names, through $ref and allOf. */
  private flatten(schema: JsonSchema | undefined): {
    properties: Record<string, JsonSchema>;
    required: string[];
  } {
    const resolved = schema?.$ref ? (this.resolve(String(schema.$ref)) as JsonSchema) : schema;
    const flat = {
      properties: { ...(resolved?.properties as Record<string, JsonSchema> | undefined) },
      required: [...((resolved?.required as string[] | undefined) ?? [])],
    };
    for (const part of (resolved?.allOf as JsonSchema[] | undefined) ?? []) {
      const inner = this.flatten(part);
      Object.assign(flat.properties, inner.properties);
      flat.required.push(...inner.required);
    }
    return flat;
  }

  private buildRoutes(): Route[] {
    const routes: Route[] = [];
    for (const [template, item] of Object.entries(this.contract.paths)) {
      const shared = (item.parameters as OperationSpec['parameters']) ?? [];
      for (const method of METHODS) {
        const op = item[method] as OperationSpec | undefined;
        if (op) routes.push(this.buildRoute(template, method.toUpperCase(), op, shared));
      }
    }
    // Literal segments win over parameters: /people/enrollmentPhoto/x is not /people/{personId}/x.
    const literals = (r: Route) => r.template.split('/').filter((s) => s && !s.startsWith('{')).length;
    return routes.sort((a, b) => literals(b) - literals(a));
  }

  private buildRoute(
    template: string,
    method: string,
    op: OperationSpec,
    shared: OperationSpec['parameters'],
  ): Route {
    const parameters = [...(shared ?? []), ...(op.parameters ?? [])].map((p) =>
      '$ref' in p ? (this.resolve(p.$ref) as ParameterSpec) : p,
    );
    const paramSchema = (location: 'path' | 'query') => ({
      type: 'object',
      properties: Object.fromEntries(
        parameters.filter((p) => p.in === location).map((p) => [p.name, p.schema]),
      ),
      required: parameters.filter((p) => p.in === location && p.required).map((p) => p.name),
    });
    const validatePath = this.coercingAjv.compile(paramSchema('path'));
    const validateQuery = this.coercingAjv.compile(paramSchema('query'));

    const content = op.requestBody?.content ?? {};
    const jsonSchema = content['application/json']?.schema;
    const multipartSchema = content['multipart/form-data']?.schema;
    const bodyKind: BodyKind = jsonSchema ? 'json' : multipartSchema ? 'multipart' : 'none';
    const { properties, required } = this.flatten(jsonSchema ?? multipartSchema);
    const validateJson = jsonSchema ? this.ajv.compile(absolutize(jsonSchema)) : undefined;
    const textParts = Object.entries(properties).filter(
      ([, schema]) => schema.contentMediaType === undefined,
    );
    const validateParts = this.coercingAjv.compile({
      type: 'object',
      properties: Object.fromEntries(textParts),
    });

    return {
      operationId: op.operationId,
      method,
      template,
      permissions: operationPermissions(op),
      permissionsAll: op['x-permission-all'] ?? [],
      includePermissions: op['x-include-permissions'] ?? {},
      bodyKind,
      rejectedImageStatus: op['x-rejected-image-status'] ?? 400,
      base64Fields: Object.entries(properties)
        .filter(([, schema]) => schema.contentEncoding === 'base64')
        .map(([name, schema]) => ({ name, emptyMessage: schema['x-empty-message'] as string | undefined })),
      requiredParts: bodyKind === 'multipart' ? required : [],
      match: templateMatcher(template),
      validateParams: ({ path: pathValues, query }) => {
        if (!validatePath(pathValues)) return describeErrors('path', validatePath.errors);
        if (!validateQuery(query)) return describeErrors('query', validateQuery.errors);
        return undefined;
      },
      validateBody: (body) => {
        if (!validateJson) return undefined;
        return validateJson(body) ? undefined : describeErrors('body', validateJson.errors);
      },
      validateParts: (fields) =>
        validateParts(fields) ? undefined : describeErrors('form', validateParts.errors),
    };
  }
}
