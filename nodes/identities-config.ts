/**
 * identities-config: one eConnect Identities server. It owns the one client (and so the one token,
 * kept in memory only) that every node using it shares, bounds their requests with a dispatcher,
 * and tells its users when the server refuses the login.
 */
import type { NodeAPI, NodeDef } from 'node-red';
import { IdentitiesClient } from '../client/client';
import { ApiError } from '../client/errors';
import {
  checkedBaseUrl,
  configurationError,
  connectionOptions,
  driftWarnings,
  testConnection,
  type ConnectionSettings,
} from './lib/connection';
import { nodeDefaults } from './lib/defaults';
import { Dispatcher, OVERFLOW_POLICIES, type OverflowPolicy } from './lib/dispatcher';
import { shared, translate } from './lib/i18n';
import { startServerOutbox, throttled, WARNING_INTERVAL_MS, type ServerOutbox } from './lib/server-outbox';
import {
  CONFIG_TYPE,
  findServer,
  type IdentitiesServer,
  type ServerCredentials,
  type ServerMembers,
  type ServerUser,
} from './lib/server';

interface ConfigDef extends NodeDef {
  baseUrl: string;
  allowHttp?: boolean;
  tls?: string;
  proxy?: string;
  /** Seconds. */
  timeout?: number | string;
  maxConcurrent?: number | string;
  queueLength?: number | string;
  overflow?: string;
  /** Seconds. */
  maxAge?: number | string;
  /** Keep fire-and-forget detections on disk while the server is unreachable. */
  outbox?: boolean | string;
  outboxMaxMB?: number | string;
  /** Hours. */
  outboxMaxAge?: number | string;
  /** Send detections kept for another server URL or user to this one. */
  outboxAdopt?: boolean | string;
  version?: number;
}

/** What the editor's "Test connection" button posts: the dialog's current values. */
interface TestRequest {
  id?: unknown;
  baseUrl?: unknown;
  allowHttp?: unknown;
  tls?: unknown;
  proxy?: unknown;
  timeout?: unknown;
  username?: unknown;
  password?: unknown;
}

/** The editor's defaults, also for a setting that is absent or unusable. */
const DEFAULTS = nodeDefaults(CONFIG_TYPE);
/** Without a Retry-After, a 429 holds every request back this long. */
const DEFAULT_RATE_LIMIT_PAUSE_MS = 1000;

/** Node-RED stores a password the editor did not change as this placeholder. */
const UNCHANGED_PASSWORD = '__PWRD__';

function positiveInteger(value: unknown, fallback: number, min: number): number {
  const number = typeof value === 'string' && value.trim() === '' ? NaN : Number(value);
  return Number.isInteger(number) && number >= min ? number : fallback;
}

function overflowPolicy(value: unknown): OverflowPolicy {
  const known = (name: unknown) => OVERFLOW_POLICIES.find((policy) => policy === name);
  return known(value) ?? known(DEFAULTS.overflow) ?? 'error';
}

/** A checkbox as stored (a boolean, or "true" from a flow written by hand). */
function checked(value: unknown): boolean {
  return value === true || value === 'true';
}

function optionalId(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

function settingsOf(def: {
  baseUrl?: unknown;
  allowHttp?: unknown;
  tls?: unknown;
  proxy?: unknown;
  timeout?: unknown;
  maxConcurrent?: unknown;
}): ConnectionSettings {
  return {
    baseUrl: typeof def.baseUrl === 'string' ? def.baseUrl : '',
    allowHttp: checked(def.allowHttp),
    tls: optionalId(def.tls),
    proxy: optionalId(def.proxy),
    timeoutMs: positiveInteger(def.timeout, Number(DEFAULTS.timeout), 1) * 1000,
    maxConcurrent: positiveInteger(def.maxConcurrent, Number(DEFAULTS.maxConcurrent), 1),
  };
}

export = function (RED: NodeAPI) {
  function IdentitiesConfigNode(this: IdentitiesServer, def: ConfigDef) {
    RED.nodes.createNode(this, def);
    const settings = settingsOf(def);
    const overflow = overflowPolicy(def.overflow);
    const users = new Set<ServerUser>();
    const loginFailedText = translate(RED, shared('status.loginFailed'));
    let problem: string | undefined;
    let loginRefused = false;
    /** "outbox: N waiting", shown by every user while the outbox holds detections. */
    let outboxWaiting: string | undefined;
    let closed = false;
    let loginStarted = false;
    const maxAgeSeconds = positiveInteger(def.maxAge, Number(DEFAULTS.maxAge), 1);
    const drops = { total: 0, full: 0, expired: 0 };

    /** Drops are what the user asked for: at most one warning per 30 s says how many and why. */
    const dropWarning = throttled(WARNING_INTERVAL_MS, (): void => {
      if (closed || drops.full + drops.expired === 0) return;
      this.warn(
        translate(RED, 'identities-config.warnings.dropped', {
          count: drops.full + drops.expired,
          full: drops.full,
          expired: drops.expired,
          policy: overflow,
          maxAge: maxAgeSeconds,
        }),
      );
      drops.full = 0;
      drops.expired = 0;
    });
    const noteDrop = (reason: 'dropped' | 'expired'): void => {
      drops.total++;
      if (reason === 'dropped') drops.full++;
      else drops.expired++;
      dropWarning.note();
    };

    const dispatcher = new Dispatcher(
      {
        maxConcurrent: settings.maxConcurrent,
        queueLength: positiveInteger(def.queueLength, Number(DEFAULTS.queueLength), 0),
        overflow,
        maxAgeMs: maxAgeSeconds * 1000,
      },
      {
        dropped: translate(RED, shared('errors.dropped')),
        expired: translate(RED, shared('errors.expired')),
        'queue-full': translate(RED, shared('errors.queueFull')),
        aborted: translate(RED, shared('errors.aborted')),
        closed: translate(RED, shared('errors.closed')),
      },
      noteDrop,
    );

    let client: IdentitiesClient | undefined;
    let setupFailure: ApiError | undefined;
    let username = '';
    try {
      const options = connectionOptions(RED, settings, this.credentials ?? {}, (level, message) =>
        level === 'warn' ? this.warn(message) : this.debug(message),
      );
      username = options.username;
      client = new IdentitiesClient({
        ...options,
        onRateLimited: (retryAfterMs) => dispatcher.pause(retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS),
        onDrift: driftWarnings(RED, (text) => this.warn(text)),
      });
      if (client.baseUrl.startsWith('http:'))
        this.warn(translate(RED, 'identities-config.warnings.plainHttp'));
    } catch (err) {
      setupFailure = err instanceof ApiError ? err : configurationError(String(err));
      problem = translate(RED, shared('status.configInvalid'));
      this.error(translate(RED, 'identities-config.errors.setup', { reason: setupFailure.message }));
    }

    /** What every user shows: a refused login first, else the outbox while it holds detections. */
    const showProblem = (): void => {
      const next = loginRefused ? loginFailedText : outboxWaiting;
      if (next === problem || closed || setupFailure) return;
      problem = next;
      for (const user of users) user.problemChanged(next);
    };

    /**
     * A refused login is every user's problem; any other failure belongs to the message that met
     * it. Says whether `err` was a refused login.
     */
    const noteOutcome = (err: unknown): boolean => {
      const refused = err instanceof ApiError && err.code === 'AUTH_FAILED';
      if (err === undefined) loginRefused = false;
      else if (refused) loginRefused = true;
      showProblem();
      return refused;
    };

    const outbox: ServerOutbox | undefined =
      client && checked(def.outbox)
        ? startServerOutbox(
            RED,
            this,
            {
              maxMegabytes: positiveInteger(def.outboxMaxMB, Number(DEFAULTS.outboxMaxMB), 1),
              maxAgeHours: positiveInteger(def.outboxMaxAge, Number(DEFAULTS.outboxMaxAge), 1),
              adopt: checked(def.outboxAdopt),
            },
            { client, username, dispatcher },
            (text) => {
              outboxWaiting = text;
              showProblem();
            },
          )
        : undefined;

    /** Logging in when the first node starts shows wrong credentials at deploy, not at the first face. */
    const loginEarly = (active: IdentitiesClient): void => {
      loginStarted = true;
      active.login().then(
        () => noteOutcome(undefined),
        (err: unknown) => {
          if (closed) return;
          if (!noteOutcome(err)) {
            this.warn(
              translate(RED, 'identities-config.warnings.loginDeferred', {
                reason: err instanceof Error ? err.message : String(err),
              }),
            );
          }
        },
      );
    };

    const members: ServerMembers & { outbox: ServerOutbox | undefined } = {
      baseUrl: client?.baseUrl,
      get dropped() {
        return drops.total;
      },
      register(user) {
        users.add(user);
        if (problem !== undefined) user.problemChanged(problem);
        if (client && !loginStarted && !closed) loginEarly(client);
      },
      deregister(user) {
        users.delete(user);
      },
      outbox,
      run(job, signal) {
        const active = client;
        if (!active) return Promise.reject(setupFailure);
        return dispatcher.submit(async (jobSignal, deadline) => {
          try {
            const result = await job(active, { signal: jobSignal, deadline });
            noteOutcome(undefined);
            return result;
          } catch (err) {
            noteOutcome(err);
            throw err;
          }
        }, signal);
      },
    };
    // Descriptors, not values: `dropped` is a getter.
    Object.defineProperties(this, Object.getOwnPropertyDescriptors(members));

    this.on('close', (done: () => void) => {
      closed = true;
      dropWarning.cancel();
      // The outbox's send in flight is waited for: aborting it could not tell whether it arrived.
      const stopped = outbox?.close() ?? Promise.resolve();
      void stopped.finally(() => {
        dispatcher.close();
        client?.close();
        done();
      });
    });
  }

  RED.nodes.registerType<IdentitiesServer, ConfigDef, Record<string, never>, ServerCredentials>(
    CONFIG_TYPE,
    IdentitiesConfigNode,
    {
      credentials: {
        username: { type: 'text' },
        password: { type: 'password' },
      },
    },
  );

  /**
   * "Test connection": logs in with the dialog's values, so users learn before deploying whether
   * the URL, certificate and credentials work. A stored password is only used for the URL it was
   * stored for, so that nobody can send it to another server from the editor without retyping it.
   */
  RED.httpAdmin.post(`/${CONFIG_TYPE}/test`, RED.auth.needsPermission(`${CONFIG_TYPE}.write`), (req, res) => {
    const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as TestRequest;
    const settings = settingsOf(body);
    const deployed = findServer(RED, optionalId(body.id));
    const typedPassword =
      typeof body.password === 'string' && body.password !== UNCHANGED_PASSWORD ? body.password : '';
    let password = typedPassword;
    try {
      if (!password && deployed?.credentials?.password) {
        if (deployed.baseUrl !== checkedBaseUrl(RED, settings.baseUrl, settings.allowHttp)) {
          res.json({ result: 'needsPassword' });
          return;
        }
        password = deployed.credentials.password;
      }
      const username = typeof body.username === 'string' ? body.username : '';
      const options = connectionOptions(RED, settings, {
        username: username || deployed?.credentials?.username,
        password,
      });
      testConnection(options).then(
        (outcome) => res.json(outcome),
        (err: unknown) => res.json({ result: 'error', detail: String(err) }),
      );
    } catch (err) {
      res.json({ result: 'config', detail: err instanceof Error ? err.message : String(err) });
    }
  });
};
