/**
 * The eConnect Identities emulator: an HTTP(S) server for every operation of the contract, with
 * real signed JWTs, users and permissions, a store, and a face engine behind an interface.
 * Dev, test and demo only: it is not part of the npm package.
 */
import { randomBytes } from 'node:crypto';
import http, {
  STATUS_CODES,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import busboy from 'busboy';
import { generate } from 'selfsigned';
import { ContractRoutes, type Route } from './contract';
import type { OperationId } from '../client/client';
import type { FaceEngine } from './engine/engine';
import { ImageDecodeError } from './engine/engine';
import { createFaceApiEngine } from './engine/faceapi';
import { createSimpleEngine } from './engine/simple';
import { FaultInjector, type FaultRule, type Outgoing } from './faults';
import { authHandlers } from './handlers/auth';
import { faceHandlers } from './handlers/faces';
import { peopleHandlers } from './handlers/people';
import { tagHandlers } from './handlers/tags';
import { HttpError, type Handler, type Reply, type RequestContext, type UploadedFile } from './http';
import { issueToken, verifyToken } from './jwt';
import type { Services } from './services';
import { NotFoundError, Store } from './store';
import { DEFAULT_USERS_FILE, knownPermissions, missingPermissions, UserDirectory, type User } from './users';

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loopback unless told otherwise. */
  host?: string;
  /** HTTPS with a self-signed certificate made at start (the default), a given one, or plain HTTP (false). */
  https?: boolean | { cert: string; key: string };
  dataDir?: string;
  /** Serve under a path prefix, like the cloud's `/identities`; none (on-premise) by default. */
  basePath?: string;
  /** Default 3600 s. */
  tokenLifetimeSeconds?: number;
  /**
   * 'faceapi' (the default): the real engine, a worker pool. 'simple': deterministic, for tests of
   * the API surface. An engine object is used as it is and stays the caller's to close.
   */
  engine?: 'faceapi' | 'simple' | FaceEngine;
  usersFile?: string;
  /** A face detected again by the same detector within this window is the same detection. Default 10 s. */
  duplicateWindowSeconds?: number;
  minEnrollQuality?: number;
  maxBodyBytes?: number;
  log?: (message: string) => void;
  /** Fault rules installed at start (see faults.ts). */
  faults?: FaultRule[];
  /** Seeds the faults' dice; a fixed default, so a run repeats. */
  faultSeed?: number;
}

export interface Emulator {
  url: string;
  port: number;
  /** PEM of the self-signed certificate, to trust it properly (HTTPS only). */
  ca: string | undefined;
  /** Requests received per operation id. */
  counts: Record<string, number>;
  /** Test hooks: what the emulator does wrong on purpose. */
  faults: FaultInjector;
  store: Store;
  routes: ContractRoutes;
  users: UserDirectory;
  /** Makes every token issued so far invalid (a key rotation). */
  revokeAllTokens(): void;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function problem(status: number, detail: string): Outgoing {
  const body = JSON.stringify({
    type: `https://httpstatuses.io/${status}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
  });
  const headers: OutgoingHttpHeaders = { 'Content-Type': 'application/problem+json' };
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
  return { status, headers, body: Buffer.from(body) };
}

function outgoing(reply: Reply): Outgoing {
  if ('json' in reply) {
    return {
      status: reply.status ?? 200,
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
      body: Buffer.from(JSON.stringify(reply.json)),
    };
  }
  if ('binary' in reply) {
    const headers: OutgoingHttpHeaders = {
      'Content-Type': reply.contentType,
      'Content-Length': reply.binary.length,
    };
    if (reply.fileName) {
      headers['Content-Disposition'] = `attachment; filename*=UTF-8''${encodeURIComponent(reply.fileName)}`;
    }
    return { status: 200, headers, body: reply.binary };
  }
  return { status: 200, headers: { 'Content-Length': 0 }, body: Buffer.alloc(0) };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `the body is over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readMultipart(
  req: IncomingMessage,
  limit: number,
): Promise<{ fields: Record<string, string>; files: Record<string, UploadedFile> }> {
  const fields: Record<string, string> = {};
  const files: Record<string, UploadedFile> = {};
  const body = await readBody(req, limit);
  await new Promise<void>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      // Clients (form-data, curl) send file names as raw UTF-8, not RFC 2231-encoded.
      parser = busboy({ headers: req.headers, defParamCharset: 'utf8' });
    } catch {
      reject(new HttpError(400, 'expected a multipart/form-data request'));
      return;
    }
    parser.on('field', (name, value) => (fields[name] = value));
    parser.on('file', (name, stream, info) => {
      const parts: Buffer[] = [];
      stream.on('data', (part: Buffer) => parts.push(part));
      stream.on('end', () => {
        // A part without a filename is a plain value sent the file way (curl -F name=<file).
        if (info.filename) {
          files[name] = { data: Buffer.concat(parts), fileName: info.filename, contentType: info.mimeType };
        } else fields[name] = Buffer.concat(parts).toString('utf8');
      });
    });
    parser.on('close', resolve);
    parser.on('error', () => reject(new HttpError(400, 'the multipart body is malformed')));
    parser.end(body);
  });
  return { fields, files };
}

function parseJson(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/**
 * Decodes the base64 properties; a missing or empty one with a documented message gets that message:
 * missing, a 400 (a required field); empty, the operation's status for a rejected image.
 */
function decodeImages(route: Route, body: Record<string, unknown>): Record<string, Buffer> {
  const images: Record<string, Buffer> = {};
  for (const { name, emptyMessage } of route.base64Fields) {
    const value = body[name];
    if ((value === undefined || value === '' || value === null) && emptyMessage) {
      throw new HttpError(value === undefined ? 400 : route.rejectedImageStatus, emptyMessage);
    }
    if (typeof value !== 'string') continue;
    if (!BASE64.test(value) || value.length % 4 === 1)
      throw new HttpError(400, `body.${name} is not valid base64`);
    images[name] = Buffer.from(value, 'base64');
  }
  return images;
}

async function serverTls(
  option: EmulatorOptions['https'],
): Promise<{ cert: string; key: string } | undefined> {
  if (option === false) return undefined;
  if (typeof option === 'object') return option;
  const made = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    notAfterDate: new Date(Date.now() + 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: made.cert, key: made.private };
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const routes = new ContractRoutes();
  // Before the engine starts, so that a bad rule stops nothing but this.
  const faults = new FaultInjector(
    new Set(routes.routes.map((route) => route.operationId)),
    options.faultSeed,
  );
  options.faults?.forEach((rule) => faults.add(rule));
  const users = new UserDirectory(options.usersFile ?? DEFAULT_USERS_FILE, knownPermissions(routes.routes));
  const store = new Store({ dataDir: options.dataDir });
  // An engine handed in belongs to the caller (tests share one across emulators): only close our own.
  const ownsEngine = typeof options.engine !== 'object';
  const engine =
    typeof options.engine === 'object'
      ? options.engine
      : options.engine === 'simple'
        ? createSimpleEngine()
        : await createFaceApiEngine();
  const lifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
  let signingKey = randomBytes(32);
  const log = options.log ?? (() => undefined);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');

  const services: Services = {
    store,
    engine,
    users,
    tokens: { issue: (username) => issueToken(username, lifetimeSeconds, signingKey) },
    duplicateWindowMs: (options.duplicateWindowSeconds ?? 10) * 1000,
    minEnrollQuality: options.minEnrollQuality ?? 0.5,
    log,
  };
  // Typed by the generated operation ids, so the compiler refuses a contract operation without a handler.
  const handlers: Record<OperationId, Handler> = {
    ...authHandlers(services),
    ...faceHandlers(services),
    ...peopleHandlers(services),
    ...tagHandlers(services),
  };
  const handlerOf = (route: Route): Handler => {
    if (!(route.operationId in handlers)) throw new Error(`no handler for ${route.operationId}`);
    return handlers[route.operationId as OperationId];
  };
  routes.routes.forEach(handlerOf);

  const counts: Record<string, number> = {};

  const authorize = (
    route: Route,
    req: IncomingMessage,
  ): { user: User | undefined; token: string | undefined } => {
    if (route.permissions === null) return { user: undefined, token: undefined };
    const header = req.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) throw new HttpError(401, 'Missing bearer token');
    const claims = faults.rejectTokens ? undefined : verifyToken(token, signingKey);
    const user = claims && users.get(claims.sub);
    if (!user) throw new HttpError(401, 'Invalid or expired token');
    const missing = missingPermissions(user, route);
    if (missing) throw new HttpError(403, `The user lacks the permission: ${missing}`);
    return { user, token };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const pathname = url.pathname.startsWith(`${basePath}/`)
      ? url.pathname.slice(basePath.length)
      : undefined;
    const found =
      pathname === undefined ? ({ status: 404 } as const) : routes.find(req.method ?? 'GET', pathname);
    if (!('route' in found)) {
      counts.unrouted = (counts.unrouted ?? 0) + 1;
      req.resume();
      faults.send(res, problem(found.status, `${req.method} ${url.pathname} is not an endpoint of this API`));
      return;
    }
    const { route } = found;
    counts[route.operationId] = (counts[route.operationId] ?? 0) + 1;
    if (!(await faults.admit(route.operationId, req, res))) return;

    const { user, token } = authorize(route, req);
    const query: Record<string, unknown> = Object.fromEntries(url.searchParams);
    const paramError = route.validateParams({ path: found.params, query });
    if (paramError) throw new HttpError(400, paramError);

    const ctx: RequestContext = {
      route,
      user,
      token,
      path: found.params,
      query,
      body: {},
      images: {},
      fields: {},
      files: {},
    };
    if (route.bodyKind === 'json') {
      if (!/^application\/([\w.+-]+\+)?json\b/i.test(req.headers['content-type'] ?? '')) {
        throw new HttpError(400, 'expected Content-Type: application/json');
      }
      ctx.body = parseJson(await readBody(req, maxBodyBytes));
      ctx.images = decodeImages(route, ctx.body);
      const bodyError = route.validateBody(ctx.body);
      if (bodyError) throw new HttpError(400, bodyError);
    } else if (route.bodyKind === 'multipart') {
      if (!/^multipart\/form-data\b/i.test(req.headers['content-type'] ?? '')) {
        throw new HttpError(400, 'expected a multipart/form-data request');
      }
      Object.assign(ctx, await readMultipart(req, maxBodyBytes));
      // The document upload takes its file from whichever part has a filename (Photos page).
      const present = (part: string) =>
        part in ctx.fields || part in ctx.files || (part === 'file' && Object.keys(ctx.files).length > 0);
      const missing = route.requiredParts.find((part) => !present(part));
      if (missing) throw new HttpError(400, `${missing} is required`);
      const partError = route.validateParts(ctx.fields);
      if (partError) throw new HttpError(400, partError);
    } else {
      req.resume();
    }
    faults.send(res, outgoing(await handlerOf(route)(ctx)));
  };

  const problemOf = (err: unknown): Outgoing => {
    if (err instanceof HttpError) return problem(err.status, err.message);
    if (err instanceof NotFoundError) return problem(404, err.message);
    if (err instanceof ImageDecodeError) return problem(400, err.message);
    log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return problem(500, 'internal error');
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) faults.send(res, problemOf(err));
    });
  };

  const tls = await serverTls(options.https);
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `${tls ? 'https' : 'http'}://${shownHost}:${port}${basePath}`,
    port,
    ca: tls?.cert,
    counts,
    faults,
    store,
    routes,
    users,
    revokeAllTokens: () => {
      signingKey = randomBytes(32);
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      store.flush();
      if (ownsEngine) await engine.close();
    },
  };
}
