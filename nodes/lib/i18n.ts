/**
 * Strings that every node shows (status texts, input errors, shared dialog labels) are written once,
 * in the config node's catalog. Node-RED scopes RED._ and the editor's node._ to the calling node's
 * own catalog unless the key names a catalog itself, so shared keys carry the config node's
 * namespace: module name + "/" + the node set name from package.json.
 */
import type { NodeAPI } from 'node-red';

const SHARED_NAMESPACE = 'node-red-contrib-econnect-identities/identities-config';

/** The full key of a shared string, e.g. `shared('status.requesting')`. */
export function shared(key: string): string {
  return `${SHARED_NAMESPACE}:identities.${key}`;
}

/** Translations made so far: the runtime's language is fixed at start, and status texts are asked
 * for on every message, where i18next's lookup and plural rules cost more than the rest of a hop. */
const translated = new Map<string, string>();
const MAX_CACHED = 1000;

/**
 * RED._, remembered. Substitutions are part of the key, so one-off texts (input errors naming what
 * was found) come and go: a full memory starts again rather than keeping them and no new ones.
 */
export function translate(
  RED: Pick<NodeAPI, '_'>,
  key: string,
  substitutions?: Record<string, string | number>,
): string {
  const id = substitutions === undefined ? key : `${key}\u0000${JSON.stringify(substitutions)}`;
  let text = translated.get(id);
  if (text === undefined) {
    text = RED._(key, substitutions);
    // The key itself comes back while a catalog is not loaded yet: ask again next time.
    if (text !== key) {
      if (translated.size >= MAX_CACHED) translated.clear();
      translated.set(id, text);
    }
  }
  return text;
}
