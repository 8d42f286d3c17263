/**
 * The message lifecycle every flow node shares: register with the config node, read the inputs,
 * queue the request on the shared client, then status + send + done, or the one failure path.
 * Closing the node aborts whatever it still has queued or in flight, and nothing is sent after.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { NotDispatchedError } from './dispatcher';
import { shared, translate } from './i18n';
import { findServer, type ClientJob, type ServerUser } from './server';
import { clearStatus, reportFailure, showDropped, showFailure, showRequesting, showResult } from './status';

export interface FlowNodeDef extends NodeDef {
  /** The id of the identities-config node. */
  server?: string;
  version?: number;
}

/** One entry per output: a message, several messages, or null for none. */
export type OutputMessages = (NodeMessage | NodeMessage[] | null)[];

export interface Delivery {
  outputs: OutputMessages;
  /** The short result for the green status dot, already translated. */
  status: string;
}

/**
 * Reads one message's inputs (failing early on bad input, before the message takes a queue slot)
 * and returns the request to run once the dispatcher gives it a slot.
 */
export type InputHandler = (msg: NodeMessageInFlow) => Promise<ClientJob<Delivery>>;

export function serveMessages(RED: NodeAPI, node: Node, def: FlowNodeDef, handle: InputHandler): void {
  const server = findServer(RED, def.server);
  const inflight = new Set<AbortController>();
  let closed = false;
  let showingProblem = false;

  const user: ServerUser = {
    node,
    problemChanged(problem) {
      if (problem !== undefined) {
        showFailure(node, problem);
        showingProblem = true;
      } else if (showingProblem) {
        clearStatus(node);
        showingProblem = false;
      }
    },
  };
  if (server) server.register(user);
  else showFailure(node, translate(RED, shared('status.noServer')));

  node.on('input', (msg, send, done) => {
    if (!server) {
      showFailure(node, translate(RED, shared('status.noServer')));
      done(new Error(translate(RED, shared('errors.noServer'))));
      return;
    }
    const controller = new AbortController();
    inflight.add(controller);
    showingProblem = false;
    showRequesting(RED, node);
    handle(msg)
      .then((job) => server.run(job, controller.signal))
      .then(
        (delivery) => {
          if (closed) return;
          showResult(node, delivery.status);
          send(delivery.outputs);
          done();
        },
        (err: unknown) => {
          if (closed) return;
          if (err instanceof NotDispatchedError && err.reason === 'dropped') {
            showDropped(RED, node);
            done();
            return;
          }
          reportFailure(RED, node, done, err);
        },
      )
      .finally(() => inflight.delete(controller));
  });

  node.on('close', () => {
    closed = true;
    for (const controller of inflight) controller.abort();
    inflight.clear();
    clearStatus(node);
    server?.deregister(user);
  });
}
