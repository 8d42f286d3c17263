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
  text: 'tagName',
  renamed: { name: ['tagName'], defaultExpiryDays: ['defaultExpirePeriod'] },
};

/** The tag from msg.payload; its default expiry also as a number of days. */
function tagBody(inputs: Inputs): Tag {
  const tag = inputs.body<Tag>(TAG);
  inputs.bodyPeriod(tag, 'defaultExpirePeriod');
  return tag;
}

const operations = {
  async listTags(inputs) {
    const query = { tagName: inputs.optionalMsgText('tagName') };
    return (client, call) => client.listTags(query, call);
  },
  async createTag(inputs) {
    const tag = tagBody(inputs);
    return (client, call) => client.createTag(tag, call);
  },
  getTag: byMsgId('tagId', (client, id, call) => client.getTag(id, call)),
  async updateTag(inputs) {
    const tagId = inputs.msgText('tagId');
    const tag = tagBody(inputs);
    return (client, call) => client.updateTag(tagId, tag, call);
  },
  deleteTag: byMsgId('tagId', (client, id, call) => client.deleteTag(id, call)),
} satisfies Record<string, Operation>;

export = function (RED: NodeAPI) {
  registerOperationNode(RED, 'identities-tags', operations);
};
