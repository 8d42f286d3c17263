/**
 * The transport under the client: one axios instance with one keep-alive agent, every response read
 * as bytes (the client decides how to parse), redirects never followed (they would carry the
 * Authorization header elsewhere), and every failure turned into an ApiError.
 */
import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type AxiosProxyConfig, type AxiosResponse } from 'axios';
import { bypassesProxy, parseProxyUrl, TunnelingAgent, type ProxyOptions } from './proxy';
import { ApiError, classifySystemError, codeForStatus } from './errors';
import type { BuiltBody } from './bodies';

export interface TlsOptions {
  /** PEM CA certificate(s) to trust in addition to (or, with a self-signed server, instead of) the system's. */
  ca?: string | Buffer | (string | Buffer)[];
  /** PEM client certificate and key for mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  /** Verify the server certificate. On unless turned off explicitly. */
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface TransportOptions {
  tls?: TlsOptions;
  /** Sockets per host at once; the config node's dispatcher bounds concurrency above this. */
  maxSockets?: number;
  userAgent?: string;
  /** Responses larger than this are refused. */
  maxResponseBytes?: number;
  /** An HTTP proxy: HTTPS is tunnelled through it with CONNECT, plain HTTP forwarded. */
  proxy?: ProxyOptions;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | undefined>;
  data: Buffer;
}

export interface SendRequest {
  operation: string;
  method: string;
  url: string;
  token?: string;
  body?: BuiltBody;
  signal: AbortSignal;
}

const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export class Transport {
  private readonly axios: AxiosInstance;
  private readonly agents: (http.Agent | https.Agent)[];
  private readonly forwardProxy: { url: URL; noProxy: readonly string[] } | undefined;

  constructor(options: TransportOptions = {}) {
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets ?? 32,
      scheduling: 'lifo' as const,
    };
    const httpAgent = new http.Agent(agentOptions);
    const httpsOptions = {
      ...agentOptions,
      ...options.tls,
      rejectUnauthorized: options.tls?.rejectUnauthorized !== false,
    };
    const httpsAgent = options.proxy
      ? new TunnelingAgent(options.proxy, httpsOptions)
      : new https.Agent(httpsOptions);
    this.agents = [httpAgent, httpsAgent];
    this.forwardProxy = options.proxy && {
      url: parseProxyUrl(options.proxy.url),
      noProxy: options.proxy.noProxy ?? [],
    };
    this.axios = axios.create({
      httpAgent,
      httpsAgent,
      maxRedirects: 0,
      proxy: false,
      responseType: 'arraybuffer',
      // Status codes are the client's to interpret, not axios's.
      validateStatus: () => true,
      transformRequest: [(data: unknown) => data],
      transformResponse: [(data: unknown) => data],
      maxContentLength: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      maxBodyLength: Infinity,
      headers: { 'User-Agent': options.userAgent ?? 'node-red-contrib-econnect-identities' },
    });
  }

  async send(request: SendRequest): Promise<RawResponse> {
    const headers: Record<string, string> = { Accept: 'application/json, */*' };
    if (request.token !== undefined) headers.Authorization = `Bearer ${request.token}`;
    if (request.body) headers['Content-Type'] = request.body.contentType;
    let response: AxiosResponse<ArrayBuffer | Buffer>;
    try {
      response = await this.axios.request({
        method: request.method,
        url: request.url,
        data: request.body?.data,
        headers,
        signal: request.signal,
        proxy: this.forwardProxyFor(request.url),
      });
    } catch (err) {
      throw transportError(request.operation, err);
    }
    const data = Buffer.isBuffer(response.data) ? response.data : Buffer.from(response.data ?? []);
    const out: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      out[name.toLowerCase()] = Array.isArray(value)
        ? value.join(', ')
        : value == null
          ? undefined
          : String(value);
    }
    return { status: response.status, headers: out, data };
  }

  /** Plain-HTTP targets go through the proxy as absolute-URI requests (HTTPS ones tunnel in the agent). */
  private forwardProxyFor(url: string): AxiosProxyConfig | false {
    const proxy = this.forwardProxy;
    if (!proxy) return false;
    const target = new URL(url);
    const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
    if (target.protocol !== 'http:' || bypassesProxy(target.hostname, port, proxy.noProxy)) return false;
    return {
      protocol: 'http',
      host: proxy.url.hostname,
      port: Number(proxy.url.port || 80),
      ...(proxy.url.username && {
        auth: {
          username: decodeURIComponent(proxy.url.username),
          password: decodeURIComponent(proxy.url.password),
        },
      }),
    };
  }

  close(): void {
    for (const agent of this.agents) agent.destroy();
  }
}

function systemCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('ERR_BAD_') && code !== 'ERR_NETWORK') return code;
  }
  return undefined;
}

function transportError(operation: string, err: unknown): ApiError {
  if (axios.isCancel(err)) {
    // The caller's signal says why: the request core aborts with a TIMEOUT or ABORTED ApiError.
    const reason: unknown = (err as { config?: { signal?: AbortSignal } }).config?.signal?.reason;
    if (reason instanceof ApiError) return reason;
    return new ApiError({ operation, code: 'ABORTED', message: 'request aborted' });
  }
  const causeCode = systemCode(err);
  if (causeCode === 'ERR_FR_MAX_CONTENT_LENGTH_EXCEEDED' || causeCode === 'ERR_BAD_RESPONSE') {
    return new ApiError({ operation, code: 'INVALID_RESPONSE', message: 'response too large', causeCode });
  }
  const { code, message } = classifySystemError(causeCode);
  return new ApiError({ operation, code, message, causeCode });
}

/** Seconds or an HTTP date, as RFC 9110 allows; undefined for anything else. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The human text of an error body: ProblemDetails' detail or title, a `message`, or plain text. */
export function errorText(data: Buffer): string | undefined {
  if (data.length === 0) return undefined;
  const text = data.subarray(0, 2000).toString('utf8').trim();
  try {
    const body: unknown = JSON.parse(data.toString('utf8'));
    if (typeof body === 'string') return body;
    if (typeof body === 'object' && body !== null) {
      const { detail, title, message, error } = body as Record<string, unknown>;
      for (const candidate of [detail, message, error, title]) {
        if (typeof candidate === 'string' && candidate.trim()) return candidate.trim();
      }
    }
  } catch {
    // Not JSON: plain text or HTML from a proxy.
  }
  return text.startsWith('<') ? undefined : text.slice(0, 300);
}

/** `scrub` removes secrets from what the server said (its body, a Location), which the client does not control. */
export function httpError(
  operation: string,
  response: RawResponse,
  scrub: (text: string) => string,
): ApiError {
  const status = response.status;
  const code = codeForStatus(status);
  const detail = errorText(response.data);
  const base = detail ? `HTTP ${status}: ${detail}` : `HTTP ${status}`;
  const message =
    code === 'REDIRECT'
      ? `${base} (redirect to ${response.headers.location ?? '?'} not followed; check the server URL)`
      : base;
  return new ApiError({
    operation,
    code,
    status,
    message: scrub(message),
    retryAfterMs: parseRetryAfter(response.headers['retry-after']),
  });
}
