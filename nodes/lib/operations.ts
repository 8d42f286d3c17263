/**
 * Nodes that offer several API operations (people, tags, enroll): the operation comes from the
 * dialog or, when the dialog says so, from msg.operation; each operation reads its own inputs and
 * returns the request to run; the result becomes msg.payload the same way for all of them.
 */
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import type { BinaryResult, CallOptions, IdentitiesClient } from '../../client/client';
import { ApiError } from '../../client/errors';
import {
  registerFlowNode,
  serveMessages,
  type Delivery,
  type FlowNodeDef,
  type InputHandler,
} from './flow-node';
import { shared, translate } from './i18n';
import { Inputs, type BodySpec } from './inputs';
import type { ClientJob } from './server';

/** The dialog's choice that hands the decision to msg.operation. */
const OPERATION_FROM_MSG = 'msg';

/** Reads the inputs of one operation from the message and returns its request. */
export type Operation = (inputs: Inputs) => Promise<ClientJob<unknown>>;

/** An operation whose only input is one id from the message, e.g. msg.personId. */
export function byMsgId(
  name: string,
  ask: (client: IdentitiesClient, id: string, call: CallOptions) => Promise<unknown>,
): Operation {
  return async (inputs) => {
    const id = inputs.msgText(name);
    return (client, call) => ask(client, id, call);
  };
}

/** An operation whose inputs are two ids from the message, e.g. msg.personId and msg.noteId. */
export function byMsgIds(
  first: string,
  second: string,
  ask: (client: IdentitiesClient, firstId: string, secondId: string, call: CallOptions) => Promise<unknown>,
): Operation {
  return async (inputs) => {
    const firstId = inputs.msgText(first);
    const secondId = inputs.msgText(second);
    return (client, call) => ask(client, firstId, secondId, call);
  };
}

/** An operation on one id from the message (e.g. msg.personId) with msg.payload as its body, in the guide's shape. */
export function byMsgIdAndBody<T>(
  name: string,
  spec: BodySpec,
  ask: (client: IdentitiesClient, id: string, body: T, call: CallOptions) => Promise<unknown>,
): Operation {
  return async (inputs) => {
    const id = inputs.msgText(name);
    const body = inputs.body<T>(spec);
    return (client, call) => ask(client, id, body, call);
  };
}

interface OperationNodeDef extends FlowNodeDef {
  /** An operation name, or OPERATION_FROM_MSG. */
  operation: string;
}

function isBinaryResult(value: unknown): value is BinaryResult {
  return (
    typeof value === 'object' &&
    value !== null &&
    Buffer.isBuffer((value as Partial<BinaryResult>).data) &&
    typeof (value as Partial<BinaryResult>).contentType === 'string'
  );
}

/**
 * A result as the message: JSON results become msg.payload; files become a Buffer payload with
 * msg.contentType and msg.filename (ready for a file or http response node); operations with no
 * result (deletes, uploads, fire-and-forget) pass the message on unchanged.
 */
function deliverResult(RED: NodeAPI, msg: NodeMessage, label: string, result: unknown): Delivery {
  if (result === undefined) return { outputs: [msg], status: label };
  if (isBinaryResult(result)) {
    msg.payload = result.data;
    msg.contentType = result.contentType;
    if (result.fileName !== undefined) msg.filename = result.fileName;
    const size = (result.data.length / 1024).toFixed(1);
    return { outputs: [msg], status: translate(RED, shared('status.bytes'), { label, size }) };
  }
  msg.payload = result;
  if (Array.isArray(result)) {
    return {
      outputs: [msg],
      status: translate(RED, shared('status.count'), { label, count: result.length }),
    };
  }
  return { outputs: [msg], status: label };
}

function isKnown<Op extends string>(operations: Record<Op, Operation>, name: unknown): name is Op {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(operations, name);
}

function operationHandler<Op extends string>(
  RED: NodeAPI,
  node: Node,
  def: OperationNodeDef,
  operations: Record<Op, Operation>,
): InputHandler {
  return async (msg) => {
    const chosen = def.operation === OPERATION_FROM_MSG ? msg.operation : def.operation;
    if (!isKnown(operations, chosen)) {
      throw new ApiError({
        operation: node.type,
        code: 'INVALID_INPUT',
        message: translate(RED, shared('errors.unknownOperation'), {
          found: typeof chosen === 'string' ? chosen.slice(0, 60) : typeof chosen,
          known: Object.keys(operations).join(', '),
        }),
      });
    }
    const inputs = new Inputs(RED, node, msg, chosen, def);
    const job = await operations[chosen](inputs);
    // The operation's label in the node's own catalog, as the dialog shows it.
    const label = translate(RED, `${node.type}.operation.${chosen}`);
    return inputs.explained(async (client, call) => deliverResult(RED, msg, label, await job(client, call)));
  };
}

/** Registers a node type whose messages each run one of `operations`. */
export function registerOperationNode<Op extends string>(
  RED: NodeAPI,
  type: string,
  operations: Record<Op, Operation>,
): void {
  registerFlowNode<OperationNodeDef>(RED, type, (node, def) =>
    serveMessages(RED, node, def, operationHandler(RED, node, def, operations)),
  );
}
