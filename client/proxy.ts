/**
 * HTTPS through an HTTP proxy: a CONNECT tunnel per connection, TLS end to end inside it, so the
 * proxy never sees the Authorization header or the images. Hosts on the no-proxy list connect
 * directly.
 */
import type { Duplex } from 'node:stream';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { ApiError } from './errors';

export interface ProxyOptions {
  /** `http://[user:password@]host:port` */
  url: string;
  /** Host names (a leading dot or none: the domain and its subdomains), `host:port`, IPs, or `*`. */
  noProxy?: string[];
}

export function parseProxyUrl(url: string): URL {
  const invalid = (message: string) =>
    new ApiError({ operation: 'configure', code: 'INVALID_INPUT', message });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('the proxy URL is not a URL');
  }
  if (parsed.protocol !== 'http:')
    throw invalid(`the proxy URL must start with http:// (got ${parsed.protocol})`);
  // The URL parser keeps a "%" that starts no escape, which decodeURIComponent (where the
  // credentials are read) throws a URIError on: say so here, without the password.
  for (const [part, text] of [
    ['user name', parsed.username],
    ['password', parsed.password],
  ]) {
    try {
      decodeURIComponent(text);
    } catch {
      throw invalid(`the proxy URL's ${part} has a % that starts no %XX escape (write a % as %25)`);
    }
  }
  return parsed;
}

/** A proxy as the transport uses it, parsed and decoded once. */
export interface ResolvedProxy {
  /** Without the brackets of an IPv6 address, as http.request wants it. */
  host: string;
  port: number;
  noProxy: readonly string[];
  /** The Proxy-Authorization header, when the URL holds a user. */
  authorization: string | undefined;
  /** Decoded, to scrub it out of error texts. */
  password: string | undefined;
}

export function resolveProxy(options: ProxyOptions): ResolvedProxy {
  const url = parseProxyUrl(options.url);
  const password = decodeURIComponent(url.password);
  const credentials = `${decodeURIComponent(url.username)}:${password}`;
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || 80),
    noProxy: options.noProxy ?? [],
    authorization: url.username ? `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}` : undefined,
    password: password || undefined,
  };
}

export function bypassesProxy(host: string, port: number, noProxy: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  return noProxy.some((raw) => {
    const entry = raw.trim().toLowerCase();
    if (!entry) return false;
    if (entry === '*') return true;
    // An IPv6 address names a port only in brackets: "::1" is the host ::1, not ":" on port 1.
    const ipv6 = !entry.startsWith('[') && entry.indexOf(':') !== entry.lastIndexOf(':');
    const [entryHost = '', entryPort] = ipv6
      ? [entry]
      : (/^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(entry)?.slice(1) ?? []);
    if (entryPort !== undefined && Number(entryPort) !== port) return false;
    const domain = entryHost.replace(/^\*?\./, '');
    return name === domain || name.endsWith(`.${domain}`);
  });
}

/** A failure of the proxy itself, with a code the client's error mapping explains. */
function proxyError(status: number | undefined): Error {
  const err = new Error(`proxy answered CONNECT with HTTP ${status ?? '?'}`);
  Object.assign(err, { code: status === 407 ? 'ERR_PROXY_AUTH' : 'ERR_PROXY_CONNECT' });
  return err;
}

export class TunnelingAgent extends https.Agent {
  constructor(
    private readonly proxy: ResolvedProxy,
    options: https.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = options.hostname ?? options.host ?? 'localhost';
    const port = Number(options.port ?? 443);
    if (!callback || bypassesProxy(host, port, this.proxy.noProxy))
      return super.createConnection(options, callback);

    const headers: Record<string, string> = { Host: `${host}:${port}` };
    if (this.proxy.authorization) headers['Proxy-Authorization'] = this.proxy.authorization;
    const connect = http.request({
      host: this.proxy.host,
      port: this.proxy.port,
      method: 'CONNECT',
      path: `${host.includes(':') ? `[${host}]` : host}:${port}`,
      headers,
      agent: false,
    });
    // Node's agent ignores the stream when an error is given.
    const fail = callback as (err: Error) => void;
    connect.once('connect', (response, socket) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        fail(proxyError(response.statusCode));
        return;
      }
      const secure = tls.connect({
        ...(options as tls.ConnectionOptions),
        socket,
        servername: options.servername ?? host,
      });
      callback(null, secure);
    });
    connect.once('error', fail);
    connect.end();
    return undefined;
  }
}
