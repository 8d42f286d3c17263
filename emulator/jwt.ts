/** HS256 JSON Web Tokens, enough for the emulator to issue and check real signed tokens. */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Claims {
  sub: string;
  iat: number;
  exp: number;
  jti: string;
}

function sign(input: string, key: Buffer): string {
  return createHmac('sha256', key).update(input).digest('base64url');
}

export function issueToken(
  subject: string,
  lifetimeSeconds: number,
  key: Buffer,
  nowMs = Date.now(),
): string {
  const iat = Math.floor(nowMs / 1000);
  const claims: Claims = {
    sub: subject,
    iat,
    exp: iat + lifetimeSeconds,
    jti: randomBytes(9).toString('base64url'),
  };
  const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${head}.${body}.${sign(`${head}.${body}`, key)}`;
}

/** The claims of a token this key signed and that has not expired; undefined otherwise. */
export function verifyToken(token: string, key: Buffer, nowMs = Date.now()): Claims | undefined {
  const [head, body, signature] = token.split('.');
  if (!head || !body || !signature) return undefined;
  const expected = Buffer.from(sign(`${head}.${body}`, key));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const c = claims as Partial<Claims>;
  if (typeof c.sub !== 'string' || typeof c.exp !== 'number' || typeof c.iat !== 'number') return undefined;
  if (c.exp * 1000 <= nowMs) return undefined;
  return c as Claims;
}
