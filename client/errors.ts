/**
 * The one error type the client throws. It is built from scratch for every failure (never by
 * wrapping a lower-level error, which may hold the request's headers or body), so nothing secret
 * can ride along; `redact` scrubs the password and tokens out of the texts that do come from
 * elsewhere (server messages, a redirect's Location).
 */

export type ApiErrorCode =
  /** Wrong username or password, or the server rejected a fresh token too. */
  | 'AUTH_FAILED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_REQUEST'
  | 'RATE_LIMITED'
  | 'SERVER_ERROR'
  | 'HTTP_ERROR'
  /** The server answered with a redirect, which is never followed with the Authorization header. */
  | 'REDIRECT'
  | 'TIMEOUT'
  | 'ABORTED'
  /** Connection refused, host not found, connection reset: the server was not reached or went away. */
  | 'NETWORK'
  /** Certificate not trusted, expired, or for another host; handshake failed. */
  | 'TLS'
  /** The caller's input was rejected before anything was sent. */
  | 'INVALID_INPUT'
  /** The server's answer could not be understood. */
  | 'INVALID_RESPONSE'
  /** The client was closed. */
  | 'CLOSED';

export interface ApiErrorInit {
  operation: string;
  code: ApiErrorCode;
  message: string;
  status?: number;
  /** The system error code behind a NETWORK or TLS error, e.g. ECONNREFUSED or CERT_HAS_EXPIRED. */
  causeCode?: string;
  /** From a Retry-After header, in milliseconds. */
  retryAfterMs?: number;
  /** The connection failed before the request's last byte left this host: the server cannot have acted on it. */
  unsent?: boolean;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly operation: string;
  readonly code: ApiErrorCode;
  readonly status: number | undefined;
  readonly causeCode: string | undefined;
  readonly retryAfterMs: number | undefined;
  /**
   * The connection failed (refused, name not found, TLS handshake, reset) before Node handed the
   * request's last byte to the operating system. A server does not act on a request it has not
   * received in full, so even a create may be sent again.
   */
  readonly unsent: boolean;

  constructor(init: ApiErrorInit) {
    super(`${init.operation}: ${init.message}`);
    this.operation = init.operation;
    this.code = init.code;
    this.status = init.status;
    this.causeCode = init.causeCode;
    this.retryAfterMs = init.retryAfterMs;
    this.unsent = init.unsent === true;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      operation: this.operation,
      code: this.code,
      status: this.status,
      causeCode: this.causeCode,
      message: this.message,
    };
  }
}

export function isApiError(value: unknown): value is ApiError {
  return value instanceof ApiError;
}

/** Replaces every occurrence of the given secrets in a text. Secrets shorter than 4 characters are
 * left alone: scrubbing "a" out of every message would make them unreadable and protect nothing. */
export function redact(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}

const STATUS_CODES: Record<number, ApiErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'AUTH_FAILED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  408: 'TIMEOUT',
  429: 'RATE_LIMITED',
};

export function codeForStatus(status: number): ApiErrorCode {
  if (status >= 300 && status < 400) return 'REDIRECT';
  return STATUS_CODES[status] ?? (status >= 500 ? 'SERVER_ERROR' : 'HTTP_ERROR');
}

const TLS_ERROR_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** Plain-words explanations of the system errors users hit most. */
const NETWORK_EXPLANATIONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running, and is the port right?)',
  ENOTFOUND: 'host not found (check the server URL)',
  EAI_AGAIN: 'host name lookup failed (DNS unavailable)',
  ECONNRESET: 'connection reset by the server',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed while sending',
  DEPTH_ZERO_SELF_SIGNED_CERT:
    'the server certificate is self-signed and not trusted (add its CA in the TLS settings)',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate chain ends in an untrusted self-signed CA',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate is not signed by a trusted CA',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate is for another host name',
  ERR_PROXY_AUTH: 'the proxy refused its credentials (HTTP 407)',
  ERR_PROXY_CONNECT: 'the proxy refused to connect to the server',
};

export function classifySystemError(causeCode: string | undefined): {
  code: ApiErrorCode;
  message: string;
} {
  const explanation =
    (causeCode && NETWORK_EXPLANATIONS[causeCode]) ?? `request failed (${causeCode ?? 'unknown error'})`;
  return { code: causeCode && TLS_ERROR_CODES.has(causeCode) ? 'TLS' : 'NETWORK', message: explanation };
}
