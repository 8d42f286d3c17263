/**
 * From the config node's settings to the client's options: the server URL rule (https, or plain
 * http only when allowed explicitly), the core tls-config node, the proxy (the core http proxy
 * node, else the environment), and the credentials. Shared by the config node and its
 * "Test connection" endpoint so that the test checks exactly what a deployment would use.
 */
import type { Node, NodeAPI } from 'node-red';
import {
  IdentitiesClient,
  normalizeBaseUrl,
  type ClientOptions,
  type DriftReport,
} from '../../client/client';
import { ApiError } from '../../client/errors';
import type { TlsOptions } from '../../client/http';
import type { ProxyOptions } from '../../client/proxy';
import type { ServerCredentials } from './server';
import { translate } from './i18n';

export interface ConnectionSettings {
  baseUrl: string;
  /** Plain http:// is refused unless this is set: it sends the password and the faces in clear text. */
  allowHttp: boolean;
  /** The id of a core tls-config node. */
  tls?: string;
  /** The id of a core http proxy node; without one the environment's proxy variables apply. */
  proxy?: string;
  timeoutMs: number;
  maxConcurrent: number;
}

interface TlsConfigNode extends Node {
  valid?: boolean;
  addTLSOptions(options: Record<string, unknown>): Record<string, unknown>;
}

interface HttpProxyNode extends Node<{ username?: string; password?: string }> {
  url?: string;
  noproxy?: string[];
}

/** The error of a setting that cannot be used, e.g. a missing password: it names the setting. */
export function configurationError(message: string): ApiError {
  return new ApiError({ operation: 'configure', code: 'INVALID_INPUT', message });
}

function deployedNode<T extends Node>(
  RED: NodeAPI,
  id: string | undefined,
  type: string,
  missing: string,
): T | undefined {
  if (!id) return undefined;
  const node = RED.nodes.getNode(id);
  if (!node || node.type !== type) throw configurationError(missing);
  return node as T;
}

function tlsOptions(RED: NodeAPI, id: string | undefined): TlsOptions | undefined {
  const node = deployedNode<TlsConfigNode>(
    RED,
    id,
    'tls-config',
    translate(RED, 'identities-config.errors.tlsMissing'),
  );
  if (!node) return undefined;
  if (node.valid === false || typeof node.addTLSOptions !== 'function') {
    throw configurationError(translate(RED, 'identities-config.errors.tlsInvalid'));
  }
  const added = node.addTLSOptions({});
  const pem = (value: unknown) => (typeof value === 'string' || Buffer.isBuffer(value) ? value : undefined);
  const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
  return {
    ca: pem(added.ca),
    cert: pem(added.cert),
    key: pem(added.key),
    passphrase: text(added.passphrase),
    servername: text(added.servername),
    // tls-config's "Verify server certificate" box; older flows without it keep verification on.
    rejectUnauthorized: added.rejectUnauthorized !== false,
  };
}

/** `invalid` is the error text for a value that is no URL; it never quotes the value, which may hold a password. */
function proxyUrl(raw: string, invalid: string, username?: string, password?: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw configurationError(invalid);
  }
  if (username) {
    // Encoded in full: the URL setters leave "%" alone, so a password holding "%41" would arrive as "A".
    url.username = encodeURIComponent(username);
    url.password = encodeURIComponent(password ?? '');
  }
  return url.href;
}

function noProxyList(hosts: string | string[] | undefined): string[] {
  const list = typeof hosts === 'string' ? hosts.split(',') : (hosts ?? []);
  return list.map((host) => host.trim()).filter(Boolean);
}

/** The proxy in the environment for this target, as curl reads it: https_proxy for https, http_proxy for http. */
function proxyFromEnvironment(
  env: NodeJS.ProcessEnv,
  target: URL,
  invalid: string,
): ProxyOptions | undefined {
  const raw =
    target.protocol === 'https:' ? (env.https_proxy ?? env.HTTPS_PROXY) : (env.http_proxy ?? env.HTTP_PROXY);
  if (!raw?.trim()) return undefined;
  return withNoProxy(proxyUrl(raw, invalid), noProxyList(env.no_proxy ?? env.NO_PROXY));
}

/** The proxy's credentials ride in its URL as user:password@, where the client reads them. */
function withNoProxy(url: string, noProxy: string[]): ProxyOptions {
  return noProxy.length ? { url, noProxy } : { url };
}

function proxyOptions(RED: NodeAPI, id: string | undefined, target: URL): ProxyOptions | undefined {
  const node = deployedNode<HttpProxyNode>(
    RED,
    id,
    'http proxy',
    translate(RED, 'identities-config.errors.proxyMissing'),
  );
  const invalid = translate(RED, 'identities-config.errors.proxyUrlInvalid');
  if (!node) return proxyFromEnvironment(process.env, target, invalid);
  const url = proxyUrl(node.url ?? '', invalid, node.credentials?.username, node.credentials?.password);
  return withNoProxy(url, noProxyList(node.noproxy));
}

/** The server URL, normalized, after the https rule; throws a configuration error naming the problem. */
export function checkedBaseUrl(RED: NodeAPI, baseUrl: string, allowHttp: boolean): string {
  const normalized = normalizeBaseUrl(baseUrl ?? '');
  if (normalized.startsWith('http:') && !allowHttp) {
    throw configurationError(translate(RED, 'identities-config.errors.plainHttp'));
  }
  return normalized;
}

export function connectionOptions(
  RED: NodeAPI,
  settings: ConnectionSettings,
  credentials: ServerCredentials,
  log?: ClientOptions['log'],
): ClientOptions {
  const baseUrl = checkedBaseUrl(RED, settings.baseUrl, settings.allowHttp);
  const username = credentials.username?.trim();
  const password = credentials.password;
  if (!username) throw configurationError(translate(RED, 'identities-config.errors.usernameMissing'));
  if (!password) throw configurationError(translate(RED, 'identities-config.errors.passwordMissing'));
  return {
    baseUrl,
    username,
    password,
    timeoutMs: settings.timeoutMs,
    maxSockets: settings.maxConcurrent,
    tls: tlsOptions(RED, settings.tls),
    proxy: proxyOptions(RED, settings.proxy, new URL(baseUrl)),
    log,
  };
}

/**
 * The client's drift reports as warnings in the log: once per operation and field (the client
 * reports each problem of a field once; one warning a field is enough to act on), naming the
 * operation, the field and the problem, so that users can tell us how their server differs.
 */
export function driftWarnings(RED: NodeAPI, warn: (text: string) => void): (report: DriftReport) => void {
  const warned = new Set<string>();
  return ({ operation, field, problem, expected = '', actual = '' }) => {
    const key = `${operation} ${field}`;
    if (warned.has(key)) return;
    warned.add(key);
    warn(
      translate(RED, 'identities-config.warnings.drift', {
        operation,
        field: field || translate(RED, 'identities-config.drift.answer'),
        problem: translate(RED, `identities-config.drift.${problem}`, { expected, actual }),
      }),
    );
  };
}

/** What "Test connection" tells the user, in the editor's words for each case. */
export type TestOutcome =
  | { result: 'success'; user: string; roles: string[] }
  | { result: 'auth' | 'tls' | 'unreachable' | 'notFound' | 'config' | 'error'; detail: string };

function outcomeOf(err: unknown): TestOutcome {
  if (!(err instanceof ApiError)) return { result: 'error', detail: String(err) };
  const detail = err.message;
  switch (err.code) {
    case 'AUTH_FAILED':
      return { result: 'auth', detail };
    case 'TLS':
      return { result: 'tls', detail };
    case 'NETWORK':
    case 'TIMEOUT':
      return { result: 'unreachable', detail };
    case 'NOT_FOUND':
    case 'REDIRECT':
      return { result: 'notFound', detail };
    case 'INVALID_INPUT':
      return { result: 'config', detail };
    default:
      return { result: 'error', detail };
  }
}

/** Logs in with a client of its own (never the deployed one: its token must not change) and reads the profile. */
export async function testConnection(options: ClientOptions): Promise<TestOutcome> {
  let client: IdentitiesClient | undefined;
  try {
    client = new IdentitiesClient(options);
    await client.login();
    try {
      const profile = await client.getUserProfile();
      return { result: 'success', user: profile.userName || options.username, roles: profile.roles ?? [] };
    } catch {
      // The login is what is being tested; a profile the server will not give is no reason to fail it.
      return { result: 'success', user: options.username, roles: [] };
    }
  } catch (err) {
    return outcomeOf(err);
  } finally {
    client?.close();
  }
}
