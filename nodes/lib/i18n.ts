/**
 * Strings that every node shows (status texts, input errors, shared dialog labels) are written once,
 * in the config node's catalog. Node-RED scopes RED._ and the editor's node._ to the calling node's
 * own catalog unless the key names a catalog itself, so shared keys carry the config node's
 * namespace: module name + "/" + the node set name from package.json.
 */
const SHARED_NAMESPACE = 'node-red-contrib-econnect-identities/identities-config';

/** The full key of a shared string, e.g. `shared('status.requesting')`. */
export function shared(key: string): string {
  return `${SHARED_NAMESPACE}:identities.${key}`;
}
