/**
 * The benchmark's own node types for the embedded Node-RED: a source the benchmark pushes messages
 * into, and a sink that hands every arriving message back. Both do nothing else, so what case A
 * adds over case B is Node-RED and the identities nodes, not the harness.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';

/** A message the benchmark sent: its number says which waiting request it completes. */
export interface BenchMessage extends NodeMessage {
  benchId: number;
}

export interface BenchHub {
  /** The deployed source nodes, by node id. */
  sources: Map<string, Node>;
  /** Called with every message that reaches a sink (results, and errors from a catch node). */
  onSink: (msg: NodeMessageInFlow) => void;
}

/** Shared with the runtime through the module cache: the node files require this same module. */
export const hub: BenchHub = { sources: new Map(), onSink: () => undefined };

export const SOURCE_TYPE = 'bench-source';
export const SINK_TYPE = 'bench-sink';

export function registerBenchNodes(RED: NodeAPI): void {
  function BenchSource(this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    hub.sources.set(this.id, this);
    this.on('close', () => hub.sources.delete(this.id));
  }
  function BenchSink(this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    this.on('input', (msg, _send, done) => {
      hub.onSink(msg);
      done();
    });
  }
  RED.nodes.registerType(SOURCE_TYPE, BenchSource);
  RED.nodes.registerType(SINK_TYPE, BenchSink);
}
