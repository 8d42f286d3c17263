/**
 * identities-tags: the Tags endpoints (list, create, get, update, delete). The operation comes from
 * the dialog or msg.operation, the tag's id from msg.tagId, the tag itself from msg.payload in the
 * guide's shape.
 */
import type { NodeAPI } from 'node-red';
import type { Tag } from '../client/client';
import type { BodySpec, Inputs } from './lib/inputs';
import { byMsgId, registerOperationNode, type Operation } from './lib/operations';

/** The guide's Tag, and the fields older versions of this package sent instead. */
const TAG: BodySpec = {
  shape: '{tagName, description?, disabled?, defaultExpirePeriod?}',
  renamed: { name: ['tagName'], defaultExpiryDays: ['defaultExpirePeriod'] },
};
/**
 * A new tag may be given by its name alone. An update may not: the guide does not say whether a
 * PUT keeps the fields it is not sent, so a rename by name alone could reset the tag's expiry.
 */
const NEW_TAG: BodySpec = { ...TAG, text: 'tagName' };

/** The tag from msg.payload; its default expiry also as a number of days. */
function tagBody(inputs: Inputs, spec: BodySpec): Tag {
  const tag = inputs.body<Tag>(spec);
  inputs.bodyPeriod(tag, 'defaultExpirePeriod');
  return tag;
}

const operations = {
  async listTags(inputs) {
    const query = { tagName: inputs.optionalMsgText('tagName') };
    return (client, call) => client.listTags(query, call);
  },
  async createTag(inputs) {
    const tag = tagBody(inputs, NEW_TAG);
    return (client, call) => client.createTag(tag, call);
  },
  getTag: byMsgId('tagId', (client, id, call) => client.getTag(id, call)),
  async updateTag(inputs) {
    const tagId = inputs.msgText('tagId');
    const tag = tagBody(inputs, TAG);
    return (client, call) => client.updateTag(tagId, tag, call);
  },
  deleteTag: byMsgId('tagId', (client, id, call) => client.deleteTag(id, call)),
} satisfies Record<string, Operation>;

export = function (RED: NodeAPI) {
  registerOperationNode(RED, 'identities-tags', operations);
};
