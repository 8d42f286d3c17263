/**
 * identities-compare: faces faceCompare (1:1). Are these two faces the same person? The answer on
 * output 1 (match) or output 2 (no match); both are results.
 */
import type { NodeAPI } from 'node-red';
import { registerFlowNode, serveMessages, type FlowNodeDef } from './lib/flow-node';
import { Inputs, type TypedSettings } from './lib/inputs';
import { translate } from './lib/i18n';

type CompareDef = FlowNodeDef & TypedSettings<'image1' | 'image2'>;

export = function (RED: NodeAPI) {
  registerFlowNode<CompareDef>(RED, 'identities-compare', (node, def) => {
    serveMessages(RED, node, def, async (msg) => {
      const inputs = new Inputs(RED, node, msg, 'faceCompare', def);
      const image1 = await inputs.image('image1', 'image1');
      const image2 = await inputs.image('image2', 'image2');
      return inputs.explained(async (client, call) => {
        const result = await client.faceCompare({ image1, image2 }, call);
        msg.payload = result;
        const percent = Math.round(result.confidence * 100);
        return result.match
          ? { outputs: [msg, null], status: translate(RED, 'identities-compare.status.match', { percent }) }
          : {
              outputs: [null, msg],
              status: translate(RED, 'identities-compare.status.noMatch', { percent }),
            };
      });
    });
  });
};
