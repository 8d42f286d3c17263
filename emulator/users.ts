/**
 * Users and roles from a config file (emulator/users.json by default), with the documented
 * permission names. A permission the contract does not know is a typo and stops the emulator.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Route } from './contract';

export const DEFAULT_USERS_FILE = path.join(__dirname, 'users.json');

export interface User {
  username: string;
  email: string | null;
  roles: string[];
  permissions: ReadonlySet<string>;
}

interface UsersFile {
  roles: Record<string, { permissions: 'all' | string[] }>;
  users: { username: string; password: string; email?: string; roles: string[] }[];
}

/** Every permission name the contract mentions. */
export function knownPermissions(routes: readonly Route[]): Set<string> {
  const names = new Set<string>();
  for (const route of routes) {
    for (const name of [...(route.permissions ?? []), ...route.permissionsAll]) names.add(name);
    for (const list of Object.values(route.includePermissions)) for (const name of list) names.add(name);
  }
  return names;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export class UserDirectory {
  private readonly users = new Map<string, { password: Buffer; user: User }>();

  constructor(file: string, known: ReadonlySet<string>) {
    const config = JSON.parse(readFileSync(file, 'utf8')) as UsersFile;
    const roles = new Map<string, readonly string[]>();
    for (const [roleName, role] of Object.entries(config.roles)) {
      const names = role.permissions === 'all' ? [...known] : role.permissions;
      const typo = names.find((name) => !known.has(name));
      if (typo !== undefined)
        throw new Error(`${file}: role ${roleName} has an unknown permission "${typo}"`);
      roles.set(roleName, names);
    }
    for (const entry of config.users) {
      const permissions = new Set<string>();
      for (const roleName of entry.roles) {
        const role = roles.get(roleName);
        if (!role) throw new Error(`${file}: user ${entry.username} has an unknown role ${roleName}`);
        role.forEach((name) => permissions.add(name));
      }
      this.users.set(entry.username.toLowerCase(), {
        password: digest(entry.password),
        user: { username: entry.username, email: entry.email ?? null, roles: entry.roles, permissions },
      });
    }
  }

  /** The user these credentials belong to, or undefined; compared in constant time. */
  authenticate(username: string, password: string): User | undefined {
    const entry = this.users.get(username.toLowerCase());
    const matches = timingSafeEqual(digest(password), entry?.password ?? digest(`${password}\0`));
    return entry && matches ? entry.user : undefined;
  }

  get(username: string): User | undefined {
    return this.users.get(username.toLowerCase())?.user;
  }

  list(): User[] {
    return [...this.users.values()].map((entry) => entry.user);
  }
}

export function hasAny(user: User, permissions: readonly string[]): boolean {
  return permissions.length === 0 || permissions.some((name) => user.permissions.has(name));
}

/** The permissions of `route` the user lacks: none when it holds one of `permissions` and every one of `permissionsAll`. */
export function missingPermissions(
  user: User,
  route: Pick<Route, 'permissions' | 'permissionsAll'>,
): string | undefined {
  const any = route.permissions ?? [];
  if (!hasAny(user, any)) return `needs one of ${any.join(', ')}`;
  const lacking = route.permissionsAll.filter((name) => !user.permissions.has(name));
  return lacking.length > 0 ? `needs all of ${route.permissionsAll.join(', ')}` : undefined;
}
