/**
 * identities-recognize: faceEdge recognize, JSON with the face as base64. Who is this cropped,
 * aligned face? The match on output 1, "no face or no match" on output 2.
 */
import type { NodeAPI } from 'node-red';
import { registerFaceMatchNode } from './lib/face-match';

export = function (RED: NodeAPI) {
  registerFaceMatchNode(RED, 'identities-recognize', 'recognize');
};
