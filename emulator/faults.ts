/**
 * Fault injection: per-operation rules that make the emulator misbehave the way a real server or
 * network does (error statuses, connection resets, stalls, slow bodies), so that tests and soak runs
 * can see how a client copes. The dice are a seeded PRNG, so a run can be repeated exactly.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { finished } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { HttpError } from './http';

export type Fault =
  /**
   * Answer with this status (a ProblemDetails body) without running the handler. retryAfter: seconds
   * (number) or an HTTP-date string, sent as Retry-After.
   */
  | { type: 'status'; status: number; retryAfter?: number | string }
  /**
   * Destroy the socket without any response. processed=false (default): the handler is NOT run (the
   * request body is still read first). processed=true: the handler runs (its state changes happen),
   * then the reply is discarded and the socket destroyed.
   */
  | { type: 'reset-before-headers'; processed?: boolean }
  /**
   * The handler runs; the status line, headers and about half of the body are written, then the socket
   * is destroyed. A response without a body is complete before the cut.
   */
  | { type: 'reset-after-headers' }
  /**
   * Wait this long before doing anything else with the request (routing is done, the request counted).
   * A client that leaves meanwhile (or the emulator closing) ends the wait, and the request is dropped.
   */
  | { type: 'stall'; ms: number }
  /** The handler runs; the response body is trickled at this rate (a chunk every 100 ms, at least a byte). */
  | { type: 'slow-body'; bytesPerSecond: number };

export interface FaultRule {
  /** Contract operation ids (e.g. 'publish', 'authenticate'), or all routed operations when absent. */
  operations?: string[];
  /** Probability per matching request, 0..1; default 1. */
  rate?: number;
  /** The rule is spent after injecting this many times; unlimited when absent. */
  count?: number;
  fault: Fault;
}

/** A response built whole before it is sent, so that a fault can spoil how it goes out. */
export interface Outgoing {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
}

export const DEFAULT_FAULT_SEED = 0x5eed;
/** How often a slow body sends its next chunk. */
const TRICKLE_MS = 100;
/** setTimeout's longest delay: a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What is wrong with a property's value (which is undefined when absent), or undefined when nothing. */
type Check = (value: unknown) => string | undefined;

const optional =
  (check: Check): Check =>
  (value) =>
    value === undefined ? undefined : check(value);
const number =
  (min: number, max: number, expected: string, whole = false): Check =>
  (value) =>
    typeof value === 'number' && value >= min && value <= max && (!whole || Number.isInteger(value))
      ? undefined
      : `must be ${expected}`;

const FAULT_CHECKS: { [Type in Fault['type']]: Record<string, Check> } = {
  status: {
    status: number(100, 599, 'a whole number from 100 to 599', true),
    retryAfter: optional((value) =>
      typeof value === 'string'
        ? Number.isNaN(Date.parse(value))
          ? 'must be whole seconds or an HTTP date'
          : undefined
        : number(0, Number.MAX_SAFE_INTEGER, 'whole seconds or an HTTP date', true)(value),
    ),
  },
  'reset-before-headers': {
    processed: optional((value) => (typeof value === 'boolean' ? undefined : 'must be true or false')),
  },
  'reset-after-headers': {},
  stall: { ms: number(0, MAX_TIMER_MS, `milliseconds from 0 to ${MAX_TIMER_MS}`) },
  'slow-body': { bytesPerSecond: number(1, Number.MAX_SAFE_INTEGER, 'a number >= 1') },
};

/** The first thing wrong with an object's properties, each named with its path. */
function problemWith(value: unknown, path: string, checks: Record<string, Check>): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `${path || 'a rule'} must be an object`;
  }
  const unknown = Object.keys(value).find((key) => !Object.hasOwn(checks, key));
  if (unknown !== undefined) return `unknown property ${path}${unknown}`;
  for (const [key, check] of Object.entries(checks)) {
    const wrong = check((value as Record<string, unknown>)[key]);
    if (wrong) return `${path}${key} ${wrong}`;
  }
  return undefined;
}

/** What is wrong with a rule, which may come from JSON, or undefined when nothing. */
function ruleProblem(rule: FaultRule, operationIds: ReadonlySet<string>): string | undefined {
  return (
    problemWith(rule, '', {
      operations: optional((value) => {
        if (!Array.isArray(value) || value.length === 0) {
          return 'must be a non-empty array of operation ids (leave it out for every operation)';
        }
        const unknown = value.find((id) => typeof id !== 'string' || !operationIds.has(id));
        return unknown === undefined ? undefined : `has an unknown operation id ${JSON.stringify(unknown)}`;
      }),
      rate: optional(number(0, 1, 'a number from 0 to 1')),
      count: optional(number(1, Infinity, 'a whole number >= 1', true)),
      fault: (value) => (typeof value === 'object' && value !== null ? undefined : 'must be an object'),
    }) ??
    (Object.hasOwn(FAULT_CHECKS, rule.fault.type)
      ? problemWith(rule.fault, 'fault.', { type: () => undefined, ...FAULT_CHECKS[rule.fault.type] })
      : `fault.type must be one of ${Object.keys(FAULT_CHECKS).join(', ')}`)
  );
}

/** mulberry32: small, fast and good enough for dice. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Ends the connection abruptly. A plain TCP socket is reset (an RST); a TLS socket does not expose its
 * TCP handle, so it is destroyed (a FIN without close_notify). Either way the client gets ECONNRESET.
 */
function reset(res: ServerResponse): void {
  const { socket } = res;
  if (socket instanceof TLSSocket) socket.destroy();
  else socket?.resetAndDestroy();
}

/** Waits ms, or less if the connection closes meanwhile; true when it waited the whole time. */
function pause(res: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const gone = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', gone);
      resolve(true);
    }, ms);
    res.once('close', gone);
  });
}

/** Writes the body in chunks on a timer, bytesPerSecond on average; the timer stops if the client goes. */
function trickle(res: ServerResponse, body: Buffer, bytesPerSecond: number): void {
  const size = Math.max(1, Math.round((bytesPerSecond * TRICKLE_MS) / 1000));
  let timer: NodeJS.Timeout | undefined;
  const next = (offset: number) => {
    const chunk = body.subarray(offset, offset + size);
    if (offset + size >= body.length) {
      res.end(chunk);
      return;
    }
    res.write(chunk);
    timer = setTimeout(next, (size / bytesPerSecond) * 1000, offset + size);
  };
  res.once('close', () => clearTimeout(timer));
  next(0);
}

interface ActiveRule {
  operations: ReadonlySet<string> | undefined;
  rate: number;
  remaining: number;
  fault: Fault;
}

/**
 * The emulator's faults. A request may get one stall and one other fault: of each kind, the first
 * matching rule (in the order added) whose dice hit. Every matching rule of a kind not yet hit rolls.
 */
export class FaultInjector {
  /** Every bearer token is refused with 401. */
  rejectTokens = false;
  /** Injections so far, keyed `${operationId}:${fault.type}`. */
  readonly injected: Record<string, number> = {};
  private rules: ActiveRule[] = [];
  private readonly random: () => number;
  /** The fault each response is to be sent with, decided when its request came in. */
  private readonly spoiled = new WeakMap<ServerResponse, Fault>();

  constructor(
    private readonly operationIds: ReadonlySet<string>,
    seed = DEFAULT_FAULT_SEED,
  ) {
    this.random = mulberry32(seed);
  }

  /** Checks a rule (an Error names what is wrong) and installs it; the function returned removes it. */
  add(rule: FaultRule): () => void {
    const problem = ruleProblem(rule, this.operationIds);
    if (problem) throw new Error(`bad fault rule ${JSON.stringify(rule)}: ${problem}`);
    const active: ActiveRule = {
      operations: rule.operations && new Set(rule.operations),
      rate: rule.rate ?? 1,
      remaining: rule.count ?? Infinity,
      fault: { ...rule.fault },
    };
    this.rules.push(active);
    return () => {
      this.rules = this.rules.filter((other) => other !== active);
    };
  }

  /** Removes every rule; rejectTokens stays as it is. */
  clear(): void {
    this.rules = [];
  }

  /**
   * The faults that act before the handler, for a request just routed and counted. false: the
   * request is over (reset, or its client left during a stall) and the handler must not run. A
   * status fault throws its HttpError, for the emulator to answer the way it answers any refusal.
   */
  async admit(operationId: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const hits = this.roll(operationId);
    for (const hit of hits) if (hit.type === 'stall' && !(await pause(res, hit.ms))) return false;
    const fault = hits.find((hit) => hit.type !== 'stall');
    if (fault?.type === 'status') {
      if (fault.retryAfter !== undefined) res.setHeader('Retry-After', String(fault.retryAfter));
      req.resume();
      throw new HttpError(fault.status, `an injected fault: status ${fault.status}`);
    }
    if (fault?.type === 'reset-before-headers' && !fault.processed) {
      finished(req.resume(), () => reset(res));
      return false;
    }
    if (fault) this.spoiled.set(res, fault);
    return true;
  }

  /** Sends a response whole, or spoilt the way its request's fault says. */
  send(res: ServerResponse, { status, headers, body }: Outgoing): void {
    const fault = this.spoiled.get(res);
    if (fault?.type === 'reset-before-headers') {
      reset(res);
      return;
    }
    res.writeHead(status, headers);
    if (fault?.type === 'reset-after-headers') {
      res.write(body.subarray(0, body.length >> 1), () => reset(res));
    } else if (fault?.type === 'slow-body') {
      trickle(res, body, fault.bytesPerSecond);
    } else {
      res.end(body);
    }
  }

  /** The rules' verdict on a request: at most one stall and one other fault, in the order of their rules. */
  private roll(operationId: string): Fault[] {
    const hits: Fault[] = [];
    for (const rule of this.rules) {
      const isStall = rule.fault.type === 'stall';
      if (rule.operations?.has(operationId) === false) continue;
      if (hits.some((hit) => (hit.type === 'stall') === isStall) || this.random() >= rule.rate) continue;
      hits.push(rule.fault);
      const key = `${operationId}:${rule.fault.type}`;
      this.injected[key] = (this.injected[key] ?? 0) + 1;
      rule.remaining -= 1;
      // Spent rules go only when one is spent, not with a new array for every request.
      if (rule.remaining <= 0) this.rules = this.rules.filter((other) => other.remaining > 0);
    }
    return hits;
  }
}
