/**
 * Reading a node's inputs for one message: TypedInput properties (a config value, or a msg, flow,
 * global, env or JSONata source) and fixed msg properties such as msg.personId. Every failure is
 * an INVALID_INPUT ApiError that names what the user set (the dialog's label and where it points,
 * "Image (msg.payload)"), with the API field in brackets where that is another name, and says what
 * was found instead, never the value itself (it may be a megabyte of image, or a secret). The
 * client's own input errors (an image that is a GIF) are renamed the same way (explained()).
 */
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { ApiError } from '../../client/errors';
import type { ImageInput } from '../../client/images';
import { nodeDefaults } from './defaults';
import { shared, translate } from './i18n';
import type { ClientJob } from './server';

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

/** A request body taken from msg.payload, in the guide's shape. */
export interface BodySpec {
  /** The guide's fields, as errors and the help show them: `{noteId?, summary, body, ...}`. */
  shape: string;
  /** The field a text payload fills (a tag's name), when the body may be given as text. */
  text?: string;
  /**
   * Fields of this package's older versions, each with the guide's field(s) that replace it. A
   * real server would ignore them (and store an empty note, or a second alias), so a body that
   * has one but none of its replacements is refused before anything is sent.
   */
  renamed?: Record<string, string[]>;
}

const CONTEXT_TYPES = new Set(['msg', 'flow', 'global']);
/** A .NET TimeSpan as the guide writes periods: `days.hh:mm:ss`, or `hh:mm:ss`. */
const PERIOD = /^(\d+\.)?\d{1,2}:\d{2}:\d{2}(\.\d+)?$/;
const MS_PER_DAY = 86_400_000;
/** The longest period a .NET TimeSpan (the server's type for it) holds, in whole days. */
const MAX_PERIOD_DAYS = 10_675_199;

/** What kind of value was found instead, as a key of the shared `found` strings, and its size. */
function kindOf(value: unknown): { kind: string; count?: number } {
  if (value === null) return { kind: 'null' };
  if (Array.isArray(value)) return { kind: 'array', count: value.length };
  if (Buffer.isBuffer(value)) return { kind: 'buffer', count: value.length };
  if (value instanceof Date) return { kind: 'date' };
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

/** `days` as a period of the guide's form: 30 -> "30.00:00:00", 0.5 -> "12:00:00". */
function period(days: number): string {
  const ms = Math.round(days * MS_PER_DAY);
  const whole = Math.floor(ms / MS_PER_DAY);
  const time = new Date(ms % MS_PER_DAY).toISOString().slice(11, 19);
  return whole > 0 ? `${whole}.${time}` : time;
}

/**
 * How errors name an input: what the user set, and the API field it fills when that is another name.
 * The subject is put into words only for an error: inputs are read for every message.
 */
interface Naming {
  subject: () => string;
  field?: string;
}

export class Inputs {
  /** The inputs read so far by the API field they fill, to rename the client's errors about them. */
  private readonly named = new Map<string, Naming>();

  constructor(
    private readonly RED: NodeAPI,
    private readonly node: Node,
    readonly msg: NodeMessage,
    /** The API operation these inputs are for: it names the errors, as the client's own do. */
    readonly operation: string,
    /** The node's settings, where its TypedInputs are (with the editor's defaults filled in). */
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

  private error(message: string, naming: Naming): ApiError {
    const field = naming.field === undefined ? '' : ` (${naming.field})`;
    return new ApiError({ operation: this.operation, code: 'INVALID_INPUT', message: `${message}${field}` });
  }

  /** Fails with the shared error `key`, about the input `naming` names. */
  private fail(key: string, naming: Naming, substitutions: Record<string, string | number> = {}): never {
    throw this.error(
      translate(this.RED, shared(`errors.${key}`), { ...substitutions, subject: naming.subject() }),
      naming,
    );
  }

  /** The TypedInput `setting`, for the request field `field`: "Image (msg.payload)" and expanded. */
  private setting(setting: string, field: string): Naming {
    const subject = () =>
      translate(this.RED, shared('errors.subject'), {
        label: translate(this.RED, `${this.node.type}.label.${setting}`),
        source: this.where(setting),
      });
    const naming = { subject, field };
    this.named.set(field, naming);
    return naming;
  }

  /** The fixed msg property `name`, for the request field `field`: msg.personId. */
  private msgProperty(name: string, field: string): Naming {
    const subject = () => `msg.${name}`;
    const naming = field === name ? { subject } : { subject, field };
    this.named.set(field, naming);
    return naming;
  }

  private where(setting: string): string {
    const property = this.property(setting);
    if (property && (CONTEXT_TYPES.has(property.type) || property.type === 'env')) {
      return `${property.type}.${property.value}`;
    }
    return translate(
      this.RED,
      shared(property?.type === 'jsonata' ? 'errors.jsonata' : 'errors.nodeSettings'),
    );
  }

  /**
   * The job, with the client's input errors about what this message's inputs gave (an image that
   * is a GIF, an id the URL cannot hold) named as the user set them: "Image (msg.payload) is a GIF
   * image; only JPEG and PNG are accepted (expanded)" instead of "expanded is a GIF image...".
   */
  explained<T>(job: ClientJob<T>): ClientJob<T> {
    return async (client, call) => {
      try {
        return await job(client, call);
      } catch (err) {
        throw this.explain(err);
      }
    };
  }

  private explain(err: unknown): unknown {
    if (!(err instanceof ApiError) || err.code !== 'INVALID_INPUT' || err.operation !== this.operation) {
      return err;
    }
    for (const [field, naming] of this.named) {
      const prefix = `${this.operation}: ${field} `;
      if (err.message.startsWith(prefix)) {
        return this.error(`${naming.subject()} ${err.message.slice(prefix.length)}`, naming);
      }
    }
    return err;
  }

  /** Fails, about the TypedInput `setting`, with the shared error `key`: for checks of a node's own. */
  invalid(
    key: string,
    setting: string,
    field: string,
    substitutions?: Record<string, string | number>,
  ): never {
    return this.fail(key, this.setting(setting, field), substitutions);
  }

  /**
   * The value of the TypedInput `setting`, for the request field `field`; undefined when it points
   * at nothing (an empty msg/flow/global path).
   */
  async value(setting: string, field: string): Promise<unknown> {
    const naming = this.setting(setting, field);
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
      return this.fail('unreadable', naming, { reason: reasonOf(err) });
    }
  }

  async text(setting: string, field: string): Promise<string> {
    const found = await this.optionalText(setting, field);
    return found ?? this.fail('missing', this.setting(setting, field));
  }

  async optionalText(setting: string, field: string): Promise<string | undefined> {
    return this.asText(await this.value(setting, field), this.setting(setting, field));
  }

  /** An image in any form the client takes; the client checks that it is a JPEG or PNG. */
  async image(setting: string, field: string): Promise<ImageInput> {
    const value = await this.value(setting, field);
    if (!isPresent(value)) return this.fail('missing', this.setting(setting, field));
    return value as ImageInput;
  }

  /**
   * A switch: a boolean, or the strings "true" / "false" (env variables and HTTP forms give
   * strings). When its source holds nothing, the editor's default for the setting.
   */
  async flag(setting: string, field: string): Promise<boolean> {
    const value = await this.value(setting, field);
    if (!isPresent(value)) return nodeDefaults(this.node.type)[setting] === 'true';
    return this.asFlag(value, this.setting(setting, field));
  }

  /** A time from the TypedInput `setting`: a Date, an ISO 8601 text or epoch milliseconds. */
  async time(setting: string, field: string): Promise<Date | undefined> {
    return this.asTime(await this.value(setting, field), this.setting(setting, field));
  }

  /** A required id or name from a fixed msg property, e.g. msg.personId, for the API field `field`. */
  msgText(name: string, field = name): string {
    return this.optionalMsgText(name, field) ?? this.fail('missing', this.msgProperty(name, field));
  }

  optionalMsgText(name: string, field = name): string | undefined {
    return this.asText(this.msg[name], this.msgProperty(name, field));
  }

  /** A required value of any kind from a fixed msg property (a file to upload), for the API field `field`. */
  msgValue(name: string, field: string): unknown {
    const naming = this.msgProperty(name, field);
    const value = this.msg[name];
    return value === undefined || value === null ? this.fail('missing', naming) : value;
  }

  /** A count from a fixed msg property (msg.skip, msg.take): a whole number, `min` or more. */
  optionalMsgCount(name: string, min = 0): number | undefined {
    const naming = this.msgProperty(name, name);
    const value = this.msg[name];
    if (!isPresent(value)) return undefined;
    const number = typeof value === 'string' ? Number(value) : value;
    if (typeof number === 'number' && Number.isInteger(number) && number >= min) return number;
    return this.fail('notCount', naming, { found: this.describe(value), min });
  }

  /** A switch from a fixed msg property (msg.dateAscending). */
  optionalMsgFlag(name: string): boolean | undefined {
    const value = this.msg[name];
    return isPresent(value) ? this.asFlag(value, this.msgProperty(name, name)) : undefined;
  }

  /** Epoch milliseconds from a fixed msg property: a number, or a Date or ISO 8601 time. */
  optionalMsgEpochMs(name: string): number | undefined {
    return this.asTime(this.msg[name], this.msgProperty(name, name))?.getTime();
  }

  /**
   * Refuses msg properties of this package's older versions (each with the one that replaces it)
   * when the message has the old one but not the new: the server would not read the old one.
   */
  refuseOldMsgProperties(renamed: Record<string, string>): void {
    for (const [old, current] of Object.entries(renamed)) {
      if (isPresent(this.msg[old]) && !isPresent(this.msg[current])) {
        this.fail('oldMsgProperty', { subject: () => `msg.${old}` }, { expected: `msg.${current}` });
      }
    }
  }

  /** A request body from msg.payload, in the guide's shape `spec` (see BodySpec). */
  body<T>(spec: BodySpec): T {
    const naming = { subject: () => 'msg.payload' };
    const value = this.msg.payload;
    if (spec.text && typeof value === 'string' && value.trim()) return { [spec.text]: value.trim() } as T;
    if (!isRecord(value)) {
      return this.fail(spec.text ? 'notBodyOrText' : 'notBody', naming, {
        shape: spec.shape,
        text: spec.text ?? '',
        found: this.describe(value),
      });
    }
    for (const [old, current] of Object.entries(spec.renamed ?? {})) {
      if (old in value && !current.some((field) => field in value)) {
        this.fail('oldField', naming, { old, expected: current.join(', '), shape: spec.shape });
      }
    }
    // A copy, which conversions (bodyTime, bodyPeriod) may change; the server checks the fields.
    return { ...value } as T;
  }

  /** A time field of a body (a person tag's expiry) as ISO 8601 text; null and absent stay so. */
  bodyTime(body: Record<string, unknown>, name: string): void {
    if (body[name] === undefined || body[name] === null) return;
    const time = this.asTime(body[name], { subject: () => `msg.payload.${name}` });
    if (time) body[name] = time.toISOString();
  }

  /** A period field of a body (a tag's default expiry) as the guide's `days.hh:mm:ss`, also from days. */
  bodyPeriod(body: Record<string, unknown>, name: string): void {
    const value = body[name];
    if (value === undefined || value === null) return;
    // A positive number of days too small for a second would become 00:00:00: "never expires".
    const days =
      typeof value === 'number' && value <= MAX_PERIOD_DAYS && (value === 0 || value * MS_PER_DAY >= 500);
    if (days) body[name] = period(value);
    else if (typeof value === 'string' && PERIOD.test(value.trim())) body[name] = value.trim();
    else {
      const found = typeof value === 'string' ? `"${value.slice(0, 40)}"` : this.describe(value);
      this.fail('notPeriod', { subject: () => `msg.payload.${name}` }, { found });
    }
  }

  private asText(value: unknown, naming: Naming): string | undefined {
    if (!isPresent(value)) return undefined;
    if (typeof value === 'string') return value.trim();
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    return this.fail('notText', naming, { found: this.describe(value) });
  }

  private asFlag(value: unknown, naming: Naming): boolean {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    return this.fail('notBoolean', naming, { found: this.describe(value) });
  }

  private asTime(value: unknown, naming: Naming): Date | undefined {
    if (!isPresent(value)) return undefined;
    // Milliseconds often arrive as text (an HTTP query, an environment variable).
    const epochText = typeof value === 'string' && /^\d+$/.test(value.trim());
    const time =
      value instanceof Date || typeof value === 'number' || typeof value === 'string'
        ? new Date(epochText ? Number(value) : value)
        : undefined;
    if (!time || Number.isNaN(time.getTime())) return this.fail('notTime', naming);
    return time;
  }
}
