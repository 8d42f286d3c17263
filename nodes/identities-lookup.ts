/**
 * identities-lookup: faceEdge lookup, the same question as recognize sent as a multipart upload
 * (the face and the embeddings as files). The match on output 1, "no face or no match" on output 2.
 */
import type { NodeAPI } from 'node-red';
import { registerFaceMatchNode } from './lib/face-match';

export = function (RED: NodeAPI) {
  registerFaceMatchNode(RED, 'identities-lookup', 'lookup');
};
