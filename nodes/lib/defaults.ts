/**
 * The editor's defaults of each node type, read from resources/defaults.js: the one file that both
 * the editor (each node's `defaults`) and the runtime take them from. A stored node that lacks a
 * setting (a flow written by hand or by an older version) gets the editor's default for it here,
 * instead of failing every message.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export type SettingValue = string | number | boolean;
type NodeDefaults = Readonly<Record<string, SettingValue>>;

const FILE = path.join('resources', 'defaults.js');

/**
 * resources/ sits at the package root: two folders above this file in the sources (nodes/lib),
 * three in the build (dist/nodes/lib).
 */
function defaultsFile(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, FILE))) return path.join(dir, FILE);
    if (path.dirname(dir) === dir) throw new Error(`${FILE} is not in any folder above ${__dirname}`);
  }
}

function isSettingValue(value: unknown): value is SettingValue {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function load(): Readonly<Record<string, NodeDefaults>> {
  const file = defaultsFile();
  const loaded: unknown = createRequire(__filename)(file);
  const types = typeof loaded === 'object' && loaded !== null ? Object.entries(loaded) : [];
  for (const [type, settings] of types) {
    const values = typeof settings === 'object' && settings !== null ? Object.values(settings) : [undefined];
    if (!values.every(isSettingValue)) throw new Error(`${file}: the defaults of ${type} are not all values`);
  }
  if (types.length === 0) throw new Error(`${file} holds no node defaults`);
  return Object.fromEntries(types) as Record<string, NodeDefaults>;
}

const DEFAULTS = load();

/** The editor's defaults of a node type. */
export function nodeDefaults(type: string): NodeDefaults {
  const defaults = DEFAULTS[type];
  if (!defaults) throw new Error(`resources/defaults.js has no defaults for ${type}`);
  return defaults;
}

/** The stored settings, with the editor's default for each one that is absent. */
export function withDefaults<T extends object>(type: string, settings: T): T {
  const filled = { ...settings } as Record<string, unknown>;
  for (const [name, value] of Object.entries(nodeDefaults(type))) {
    if (filled[name] === undefined) filled[name] = value;
  }
  return filled as T;
}
