/**
 * Status and failure reporting, the same for every node, as the core http request and mqtt nodes do
 * it: blue dot while requesting, green dot with a short result, red ring with the reason, nothing
 * once closed. Texts are translated here, in the runtime, so that Status nodes and dashboards get
 * words rather than catalog keys.
 */
import type { Node, NodeAPI } from 'node-red';
import { ApiError } from '../../client/errors';
import { NotDispatchedError } from './dispatcher';
import { shared, translate } from './i18n';

export function showRequesting(RED: NodeAPI, node: Node): void {
  node.status({ fill: 'blue', shape: 'dot', text: translate(RED, shared('status.requesting')) });
}

export function showResult(node: Node, text: string): void {
  node.status({ fill: 'green', shape: 'dot', text });
}

/** A message discarded as the user's settings say (queue full, too old): a warning with the server's count, not a failure. */
export function showDropped(RED: NodeAPI, node: Node, count: number): void {
  node.status({ fill: 'yellow', shape: 'ring', text: translate(RED, shared('status.dropped'), { count }) });
}

export function showFailure(node: Node, reason: string): void {
  node.status({ fill: 'red', shape: 'ring', text: reason });
}

export function clearStatus(node: Node): void {
  node.status({});
}

/** A few words for the status ring; the full explanation travels in the error itself. */
function shortReason(RED: NodeAPI, err: unknown): string {
  if (err instanceof ApiError) return translate(RED, shared(`reason.${err.code}`));
  if (err instanceof NotDispatchedError) return translate(RED, shared(`reason.${err.reason}`));
  return translate(RED, shared('reason.unexpected'));
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * The one failure path of every node: red ring with the reason, and done(err) so that Catch nodes
 * get the message with msg.error saying what was wrong (and msg.error.code the ApiError code).
 */
export function reportFailure(RED: NodeAPI, node: Node, done: (err?: Error) => void, err: unknown): void {
  showFailure(node, shortReason(RED, err));
  done(asError(err));
}
