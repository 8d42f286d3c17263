/**
 * identities-enroll: faces faceEnroll (a new person from a face, or another photo for msg.personId)
 * and checkImageReference (was an image with this photoReferenceId enrolled already?).
 */
import type { NodeAPI } from 'node-red';
import { registerOperationNode, type Operation } from './lib/operations';

const operations = {
  async faceEnroll(inputs) {
    const faceImage = await inputs.image('image', 'faceImage');
    const personId = await inputs.optionalText('personId', 'personId');
    const forceEnrollment = await inputs.flag('forceEnrollment', 'forceEnrollment');
    const photoReferenceId = await inputs.optionalText('photoReferenceId', 'photoReferenceId');
    return async (client, call) => {
      const result = await client.faceEnroll(
        { faceImage, personId, forceEnrollment, photoReferenceId },
        call,
      );
      // Ready for the next node: a people node that names the new person, say.
      inputs.msg.personId = result.personId;
      inputs.msg.image = faceImage;
      return result;
    };
  },
  async checkImageReference(inputs) {
    const referenceId = await inputs.text('photoReferenceId', 'referenceId');
    return (client, call) => client.checkImageReference(referenceId, call);
  },
} satisfies Record<string, Operation>;

export = function (RED: NodeAPI) {
  registerOperationNode(RED, 'identities-enroll', operations);
};
