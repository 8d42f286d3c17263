/**
 * What a flow node sees of its identities-config node: one shared client behind one dispatcher,
 * and a register/deregister pair so the config node knows whom to tell when the login fails.
 */
import type { Node, NodeAPI } from 'node-red';
import type { CallOptions, IdentitiesClient } from '../../client/client';

export const CONFIG_TYPE = 'identities-config';

export interface ServerCredentials {
  username?: string;
  password?: string;
}

export interface ServerUser {
  /**
   * Called with a short reason when every user should show it (the login was refused, the
   * configuration is invalid), and with undefined once that is over.
   */
  problemChanged(problem: string | undefined): void;
}

export type ClientJob<T> = (client: IdentitiesClient, call: CallOptions) => Promise<T>;

/** What the config node adds to a Node. */
export interface ServerMembers {
  /** The normalized server URL, or undefined when the configuration is invalid. */
  readonly baseUrl: string | undefined;
  /** Messages dropped so far (queue full, or too old), for the users' status. */
  readonly dropped: number;
  register(user: ServerUser): void;
  deregister(user: ServerUser): void;
  /** Runs `job` through the dispatcher; `signal` cancels it, queued or running. */
  run<T>(job: ClientJob<T>, signal: AbortSignal): Promise<T>;
}

export type IdentitiesServer = Node<ServerCredentials> & ServerMembers;

function isServer(node: Node | null): node is IdentitiesServer {
  return (
    node !== null &&
    node.type === CONFIG_TYPE &&
    typeof (node as Partial<IdentitiesServer>).run === 'function'
  );
}

/** The config node a flow node names, or undefined when none is chosen or it is not deployed. */
export function findServer(RED: NodeAPI, id: string | undefined): IdentitiesServer | undefined {
  if (!id) return undefined;
  const node = RED.nodes.getNode(id);
  return isServer(node) ? node : undefined;
}
