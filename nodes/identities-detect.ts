/**
 * identities-detect: faces faceDetect. Every face in an image with its box, and msg.annotations to
 * draw them; output 2 takes the images with no face, which is a result and not an error.
 */
import type { NodeAPI } from 'node-red';
import { annotation } from './lib/faces';
import { registerFlowNode, serveMessages, type FlowNodeDef } from './lib/flow-node';
import { shared, translate } from './lib/i18n';
import { Inputs, type TypedSettings } from './lib/inputs';

type DetectDef = FlowNodeDef & TypedSettings<'image'>;

export = function (RED: NodeAPI) {
  registerFlowNode<DetectDef>(RED, 'identities-detect', (node, def) => {
    serveMessages(RED, node, def, async (msg) => {
      const inputs = new Inputs(RED, node, msg, 'faceDetect', def);
      const image = await inputs.image('image', 'image');
      return inputs.explained(async (client, call) => {
        const result = await client.faceDetect({ image }, call);
        const faces = result.detections;
        const unknown = translate(RED, shared('label.unknown'));
        msg.image = image;
        msg.payload = result;
        msg.annotations = faces.map((face) => annotation(face.boundingBox, face.personId ?? unknown));
        if (faces.length === 0)
          return { outputs: [null, msg], status: translate(RED, shared('status.noFace')) };
        return {
          outputs: [msg, null],
          status: translate(RED, 'identities-detect.status.faces', { count: faces.length }),
        };
      });
    });
  });
};
