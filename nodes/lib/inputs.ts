/**
 * Reading a node's inputs for one message: TypedInput properties (a config value, or a msg, flow,
 * global, env or JSONata source) and fixed msg properties such as msg.personId. Every failure is
 * an INVALID_INPUT ApiError that names the input and says what was found instead, never the value
 * itself (it may be a megabyte of image, or a secret).
 */
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { ApiError } from '../../client/errors';
import type { ImageInput } from '../../client/images';
import { shared, translate } from './i18n';

/** A TypedInput as Node-RED stores it: the value, and the type chosen beside it. */
interface TypedProperty {
  value: string;
  type: string;
}

/**
 * The node settings of TypedInputs, as the editor saves them: `<name>` holds the value and
 * `<name>Type` the type, e.g. `image: 'payload', imageType: 'msg'`.
 */
export type TypedSettings<Name extends string> = Record<Name | `${Name}Type`, string>;

const CONTEXT_TYPES = new Set(['msg', 'flow', 'global']);

/** What kind of value was found instead, as a key of the shared `found` strings, and its size. */
function kindOf(value: unknown): { kind: string; count?: number } {
  if (value === null) return { kind: 'null' };
  if (Array.isArray(value)) return { kind: 'array', count: value.length };
  if (Buffer.isBuffer(value)) return { kind: 'buffer', count: value.length };
  if (typeof value === 'object') return { kind: 'object' };
  if (typeof value === 'string') return { kind: value.trim() === '' ? 'emptyString' : 'string' };
  return { kind: typeof value === 'number' || typeof value === 'boolean' ? typeof value : 'other' };
}

/**
 * Why a source could not be read. JSONata throws plain objects, not Errors, whose message may
 * quote the msg value it failed on: those are named by their code and position instead.
 */
function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  const { code, position } = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  if (typeof code === 'string') {
    return `JSONata error ${code}${typeof position === 'number' ? ` at character ${position}` : ''}`;
  }
  return typeof err === 'string' ? err : 'unknown error';
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === '');
}

export class Inputs {
  constructor(
    private readonly RED: NodeAPI,
    private readonly node: Node,
    readonly msg: NodeMessage,
    /** The API operation these inputs are for: it names the errors, as the client's own do. */
    readonly operation: string,
    /** The node's settings, where its TypedInputs are. */
    private readonly settings: object,
  ) {}

  private property(setting: string): TypedProperty | undefined {
    const settings = this.settings as Record<string, unknown>;
    const value = settings[setting];
    const type = settings[`${setting}Type`];
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
      return undefined;
    return { value: String(value), type: typeof type === 'string' && type ? type : 'str' };
  }

  /** What was found instead, in the user's language, never the value itself. */
  private describe(value: unknown): string {
    const { kind, count } = kindOf(value);
    return translate(this.RED, shared(`found.${kind}`), { count: count ?? 0 });
  }

  fail(key: string, substitutions: Record<string, string | number> = {}): never {
    throw new ApiError({
      operation: this.operation,
      code: 'INVALID_INPUT',
      message: translate(this.RED, shared(`errors.${key}`), substitutions),
    });
  }

  /**
   * The value of the TypedInput `setting`, for the request field `field`; undefined when it points
   * at nothing (an empty msg/flow/global path).
   */
  async value(setting: string, field: string): Promise<unknown> {
    const property = this.property(setting);
    if (!property || (CONTEXT_TYPES.has(property.type) && property.value.trim() === '')) return undefined;
    try {
      return await new Promise<unknown>((resolve, reject) => {
        this.RED.util.evaluateNodeProperty(
          property.value,
          property.type,
          this.node,
          this.msg,
          (err: Error | null, result: unknown) => (err ? reject(err) : resolve(result)),
        );
      });
    } catch (err) {
      // A path through a property that is not there (msg.camera.face without msg.camera) points at nothing.
      if (err instanceof TypeError && CONTEXT_TYPES.has(property.type)) return undefined;
      return this.fail('unreadable', { field, reason: reasonOf(err) });
    }
  }

  async text(setting: string, field: string): Promise<string> {
    const found = await this.optionalText(setting, field);
    return found ?? this.fail('missing', { field, source: this.where(setting) });
  }

  async optionalText(setting: string, field: string): Promise<string | undefined> {
    return this.asText(await this.value(setting, field), field);
  }

  /** An image in any form the client takes; the client checks that it is a JPEG or PNG. */
  async image(setting: string, field: string): Promise<ImageInput> {
    const value = await this.value(setting, field);
    if (!isPresent(value)) return this.fail('missing', { field, source: this.where(setting) });
    return value as ImageInput;
  }

  /** A switch: a boolean, or the strings "true" / "false" (env variables and HTTP forms give strings). */
  async flag(setting: string, field: string, fallback: boolean): Promise<boolean> {
    const value = await this.value(setting, field);
    if (!isPresent(value)) return fallback;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    return this.fail('notBoolean', { field, found: this.describe(value) });
  }

  /** A required id or name from a fixed msg property, e.g. msg.personId. */
  msgText(name: string): string {
    return this.optionalMsgText(name) ?? this.fail('missing', { field: name, source: `msg.${name}` });
  }

  optionalMsgText(name: string): string | undefined {
    return this.asText(this.msg[name], name);
  }

  /** A whole number from a fixed msg property, e.g. msg.take. */
  optionalMsgInteger(name: string): number | undefined {
    const text = this.optionalMsgText(name);
    if (text === undefined) return undefined;
    const number = Number(text);
    return Number.isInteger(number) ? number : this.fail('notInteger', { field: `msg.${name}` });
  }

  /**
   * A request body from msg.payload: a plain object, or, where the body has one main text field
   * (a note's text, a tag's name), a string for that field.
   */
  body<T>(textField?: keyof T & string): T {
    const value = this.msg.payload;
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value)) {
      // The server checks the fields and says which one it rejects.
      return value as T;
    }
    if (textField && typeof value === 'string' && value.trim()) return { [textField]: value } as T;
    return this.fail(textField ? 'notObjectOrText' : 'notObject', {
      field: 'msg.payload',
      found: this.describe(value),
    });
  }

  private asText(value: unknown, field: string): string | undefined {
    if (!isPresent(value)) return undefined;
    if (typeof value === 'string') return value.trim();
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    return this.fail('notText', { field, found: this.describe(value) });
  }

  private where(setting: string): string {
    const property = this.property(setting);
    return property && CONTEXT_TYPES.has(property.type)
      ? `${property.type}.${property.value}`
      : translate(this.RED, shared('errors.nodeSettings'));
  }
}
