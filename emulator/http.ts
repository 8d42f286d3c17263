/** What handlers take and give: the parsed request, the reply, and errors with a status. */
import type { Route } from './contract';
import type { User } from './users';

export interface UploadedFile {
  data: Buffer;
  fileName: string;
  contentType: string;
}

export interface RequestContext {
  route: Route;
  /** undefined only for the anonymous operation (authenticate). */
  user: User | undefined;
  token: string | undefined;
  path: Record<string, string>;
  query: Record<string, unknown>;
  /** The JSON body, validated against the contract. */
  body: Record<string, unknown>;
  /** The JSON body's base64 properties, decoded. */
  images: Record<string, Buffer>;
  /** Multipart text parts and file parts. */
  fields: Record<string, string>;
  files: Record<string, UploadedFile>;
}

export type Reply =
  | { json: unknown; status?: number }
  | { binary: Buffer; contentType: string; fileName?: string }
  | { empty: true };

export type Handler = (ctx: RequestContext) => Reply | Promise<Reply>;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The signed-in user (handlers of authenticated operations only). */
export function userOf(ctx: RequestContext): User {
  if (!ctx.user) throw new HttpError(401, 'not signed in');
  return ctx.user;
}

/**
 * What the contract's validation guarantees is present, read so that a gap between the contract
 * and a handler shows as a clear 400 rather than a crash.
 */
function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new HttpError(400, `${what} is required`);
  return value;
}

export const pathParam = (ctx: RequestContext, name: string): string => present(ctx.path[name], name);
export const image = (ctx: RequestContext, name: string): Buffer => present(ctx.images[name], name);
export const file = (ctx: RequestContext, name: string): UploadedFile => present(ctx.files[name], name);
export const field = (ctx: RequestContext, name: string): string => present(ctx.fields[name], name);
