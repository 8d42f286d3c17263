/**
 * The message lifecycle every flow node shares: register with the config node, read the inputs,
 * queue the request on the shared client, then status + send + done, or the one failure path.
 * Closing the node aborts whatever it still has queued or in flight and ends each of those
 * messages with done(err) there and then, so a redeploy loses none; nothing is sent after.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { withDefaults } from './defaults';
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

/** A message between input and its one ending: an output, a failure, or a counted drop. */
interface Pending {
  controller: AbortController;
  done: (err?: Error) => void;
}

/**
 * Registers a flow node type: `start` gets the node and its settings, where each setting the stored
 * node lacks (a flow written by hand or by an older version) has the editor's default.
 */
export function registerFlowNode<Def extends FlowNodeDef>(
  RED: NodeAPI,
  type: string,
  start: (node: Node, def: Def) => void,
): void {
  function FlowNode(this: Node, def: Def) {
    RED.nodes.createNode(this, def);
    start(this, withDefaults(type, def));
  }
  RED.nodes.registerType(type, FlowNode);
}

export function serveMessages(RED: NodeAPI, node: Node, def: FlowNodeDef, handle: InputHandler): void {
  const server = findServer(RED, def.server);
  const pending = new Set<Pending>();
  const noServerStatus = translate(RED, shared('status.noServer'));
  let showingProblem = false;

  const user: ServerUser = {
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
  else showFailure(node, noServerStatus);

  node.on('input', (msg, send, done) => {
    if (!server) {
      showFailure(node, noServerStatus);
      done(new Error(translate(RED, shared('errors.noServer'))));
      return;
    }
    const message: Pending = { controller: new AbortController(), done };
    pending.add(message);
    showingProblem = false;
    showRequesting(RED, node);
    // Whoever takes the message out of `pending` ends it; after close() nobody else can.
    handle(msg)
      .then((job) => server.run(job, message.controller.signal))
      .then(
        (delivery) => {
          if (!pending.delete(message)) return;
          try {
            showResult(node, delivery.status);
            send(delivery.outputs);
          } catch (err) {
            reportFailure(RED, node, done, err);
            return;
          }
          done();
        },
        (err: unknown) => {
          if (!pending.delete(message)) return;
          if (err instanceof NotDispatchedError && err.isDrop) {
            showDropped(RED, node, server.dropped);
            done();
            return;
          }
          reportFailure(RED, node, done, err);
        },
      );
  });

  node.on('close', () => {
    const stopped = new NotDispatchedError('aborted', translate(RED, shared('errors.aborted')));
    for (const message of pending) {
      message.controller.abort();
      message.done(stopped);
    }
    pending.clear();
    clearStatus(node);
    server?.deregister(user);
  });
}
