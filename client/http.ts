/**
 * The transport under the client: node:http(s) with one keep-alive agent per protocol, every
 * response read as bytes (the client decides how to parse), redirects never followed (they would
 * carry the Authorization header elsewhere), and every failure turned into an ApiError.
 *
 * Not axios: per request it merged configs, normalised headers through AxiosHeaders, ran its
 * transform and interceptor chains and wrapped the abort signal, which cost more client CPU than
 * the HTTP exchange itself at 50 KB (bench/: client CPU per request, B against C). The request
 * body is already one Buffer, so node:http writes it with a Content-Length and nothing in between.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { bypassesProxy, TunnelingAgent, type ResolvedProxy } from './proxy';
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
  proxy?: ResolvedProxy;
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

/** Where a request's socket goes: the server itself, or a forwarding proxy for a plain-HTTP target. */
interface Route {
  host: string;
  port: number;
  path: string;
  proxyAuthorization: string | undefined;
}

export class Transport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly proxy: ResolvedProxy | undefined;
  private readonly userAgent: string;
  private readonly maxResponseBytes: number;

  constructor(options: TransportOptions = {}) {
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets ?? 32,
      scheduling: 'lifo' as const,
    };
    this.httpAgent = new http.Agent(agentOptions);
    const httpsOptions = {
      ...agentOptions,
      ...options.tls,
      rejectUnauthorized: options.tls?.rejectUnauthorized !== false,
    };
    this.httpsAgent = options.proxy
      ? new TunnelingAgent(options.proxy, httpsOptions)
      : new https.Agent(httpsOptions);
    this.proxy = options.proxy;
    this.userAgent = options.userAgent ?? 'node-red-contrib-econnect-identities';
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  send(request: SendRequest): Promise<RawResponse> {
    const { operation, signal } = request;
    if (signal.aborted) return Promise.reject(abortError(operation, signal));
    const target = new URL(request.url);
    const secure = target.protocol === 'https:';
    const headers: OutgoingHttpHeaders = {
      'User-Agent': this.userAgent,
      Accept: 'application/json, */*',
    };
    if (request.token !== undefined) headers.Authorization = `Bearer ${request.token}`;
    if (request.body) {
      headers['Content-Type'] = request.body.contentType;
      headers['Content-Length'] = request.body.data.length;
    }
    const route = secure ? undefined : this.forwardRoute(target);
    if (route?.proxyAuthorization) headers['Proxy-Authorization'] = route.proxyAuthorization;
    const defaultPort = secure ? 443 : 80;
    const options: https.RequestOptions = {
      method: request.method,
      host: route?.host ?? target.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: route?.port ?? (Number(target.port) || defaultPort),
      path: route?.path ?? `${target.pathname}${target.search}`,
      headers,
      agent: secure ? this.httpsAgent : this.httpAgent,
    };
    // Through a forwarding proxy the Host header names the target, as the absolute URI does.
    if (route) headers.Host = target.host;
    const body = request.body?.data;
    const maxBytes = this.maxResponseBytes;

    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      // 'finish': the last byte of the request went to the operating system. Before it, the server
      // cannot have the whole request, so a failure then is safe to retry for any operation.
      let handedOff = false;
      const finish = (err: ApiError | undefined, response?: RawResponse) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(response as RawResponse);
      };
      const fail = (err: unknown) => {
        if (settled) return;
        req.destroy();
        finish(signal.aborted ? abortError(operation, signal) : transportError(operation, err, !handedOff));
      };
      const onAbort = () => {
        if (settled) return;
        // A timeout before the last byte left (a server that never accepted the connection) leaves
        // the server without the whole request, as a refused connection does.
        const err = abortError(operation, signal);
        finish(handedOff ? err : new ApiError({ ...err, message: err.message, unsent: true }));
        req.destroy();
      };
      const req = (secure ? https : http).request(options, (res: IncomingMessage) => {
        // An answer means the server has the request, whether or not 'finish' came first.
        handedOff = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            finish(new ApiError({ operation, code: 'INVALID_RESPONSE', message: 'response too large' }));
            req.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
          finish(undefined, { status: res.statusCode ?? 0, headers: flatHeaders(res), data });
        });
        res.on('error', fail);
        // The connection closed before the whole body arrived.
        res.on('close', () => {
          if (!res.complete) fail(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' }));
        });
      });
      req.on('error', fail);
      let written = false;
      req.on('finish', () => {
        handedOff = true;
        written = true;
      });
      const release = request.body?.release;
      if (release) {
        // Only a body written in full is reused. After a failure mid-write the GC, not the pool,
        // takes it: the request's writableFinished cannot tell, as it turns true on 'close' then too.
        req.on('close', () => {
          if (written) release();
        });
      }
      signal.addEventListener('abort', onAbort, { once: true });
      req.end(body);
    });
  }

  /** Plain-HTTP targets go through the proxy as absolute-URI requests (HTTPS ones tunnel in the agent). */
  private forwardRoute(target: URL): Route | undefined {
    const proxy = this.proxy;
    if (!proxy || bypassesProxy(target.hostname, Number(target.port || 80), proxy.noProxy)) return undefined;
    return { host: proxy.host, port: proxy.port, path: target.href, proxyAuthorization: proxy.authorization };
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Header names arrive in lower case; repeated ones (set-cookie) are joined as one value. */
function flatHeaders(res: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The caller's signal says why: the request core aborts with a TIMEOUT or ABORTED ApiError. */
function abortError(operation: string, signal: AbortSignal): ApiError {
  const reason: unknown = signal.reason;
  if (reason instanceof ApiError) return reason;
  return new ApiError({ operation, code: 'ABORTED', message: 'request aborted' });
}

function systemCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function transportError(operation: string, err: unknown, unsent: boolean): ApiError {
  if (err instanceof ApiError) return err;
  const causeCode = systemCode(err);
  const { code, message } = classifySystemError(causeCode);
  return new ApiError({ operation, code, message, causeCode, unsent });
}

/** Seconds or an HTTP date, as RFC 9110 allows; undefined for anything else. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    // Hundreds of digits make Infinity: no usable delay, like a value that is not a number.
    const ms = Number(trimmed) * 1000;
    return Number.isFinite(ms) ? ms : undefined;
  }
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
