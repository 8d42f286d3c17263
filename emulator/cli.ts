/**
 * `npm run emulator -- --port N [--http] [--host H] [--data-dir DIR] [--base-path P] [--token-lifetime SECONDS]
 *  [--engine faceapi|simple] [--users FILE] [--cert FILE --key FILE] [--faults FILE|JSON]`
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { FaultRule } from './faults';
import { startEmulator } from './server';
import { DEFAULT_USERS_FILE } from './users';

const USAGE =
  'usage: npm run emulator -- --port N [--http] [--host 127.0.0.1] [--data-dir DIR] [--base-path /identities] ' +
  '[--token-lifetime SECONDS] ' +
  '[--engine faceapi|simple] [--users FILE] [--cert FILE --key FILE] [--faults FILE|JSON]';

/**
 * --faults: a JSON array of fault rules (FaultRule in faults.ts), inline (it starts with `[`) or in a
 * file, e.g. `--faults '[{"operations":["publish"],"rate":0.1,"fault":{"type":"status","status":503}}]'`.
 * Only its shape is checked here: startEmulator checks each rule, before it starts anything.
 */
export function parseFaults(value: string): FaultRule[] {
  let rules: unknown;
  try {
    rules = JSON.parse(value.trimStart().startsWith('[') ? value : readFileSync(value, 'utf8'));
  } catch (err) {
    throw new Error(`--faults: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!Array.isArray(rules)) throw new Error('--faults must be a JSON array of fault rules');
  return rules as FaultRule[];
}

function demoUserPasswords(): Partial<Record<string, string>> {
  const file = JSON.parse(readFileSync(DEFAULT_USERS_FILE, 'utf8')) as {
    users: { username: string; password: string }[];
  };
  return Object.fromEntries(file.users.map((user) => [user.username, user.password]));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '5009' },
      host: { type: 'string', default: '127.0.0.1' },
      http: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      'base-path': { type: 'string' },
      'token-lifetime': { type: 'string', default: '3600' },
      engine: { type: 'string', default: 'faceapi' },
      users: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      faults: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  const lifetime = Number(values['token-lifetime']);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be 0-65535, got ${values.port}`);
  if (!Number.isInteger(lifetime) || lifetime < 1)
    throw new Error(`--token-lifetime must be a whole number of seconds`);
  const engine = values.engine;
  if (engine !== 'faceapi' && engine !== 'simple')
    throw new Error(`--engine must be faceapi or simple, got ${engine}`);
  if (!!values.cert !== !!values.key) throw new Error('--cert and --key go together');
  const faults = values.faults === undefined ? undefined : parseFaults(values.faults);

  const emulator = await startEmulator({
    port,
    host: values.host,
    https: values.http
      ? false
      : values.cert && values.key
        ? { cert: readFileSync(values.cert, 'utf8'), key: readFileSync(values.key, 'utf8') }
        : true,
    dataDir: values['data-dir'],
    basePath: values['base-path'],
    tokenLifetimeSeconds: lifetime,
    engine,
    usersFile: values.users,
    log: (message) => console.error(message),
    faults,
  });
  console.log(`listening on ${emulator.url}`);
  if (faults) console.log(`injecting faults: ${JSON.stringify(faults)}`);
  // Passwords are shown for the shipped demo users only, never for a users file of the caller's.
  const demoPasswords = values.users ? {} : demoUserPasswords();
  console.log(values.users ? 'users:' : 'demo users (username/password):');
  for (const user of emulator.users.list()) {
    const password = demoPasswords[user.username];
    const login = password === undefined ? user.username : `${user.username}/${password}`;
    console.log(`  ${login.padEnd(16)} ${user.roles.join(', ')} (${user.permissions.size} permissions)`);
  }
  const stop = () => {
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

// Run, not imported (tests import parseFaults).
if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    console.error(USAGE);
    process.exitCode = 1;
  });
}
