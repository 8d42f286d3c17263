/**
 * identities-tags: the Tags endpoints (list, create, get, update, delete). The operation comes from
 * the dialog or msg.operation, the tag's id from msg.tagId, the tag itself from msg.payload.
 */
import type { NodeAPI } from 'node-red';
import type { Tag } from '../client/client';
import { byMsgId, byMsgIdAndBody, registerOperationNode, type Operation } from './lib/operations';

const operations = {
  async listTags(inputs) {
    const query = { tagName: inputs.optionalMsgText('tagName') };
    return (client, call) => client.listTags(query, call);
  },
  async createTag(inputs) {
    const tag = inputs.body<Tag>('tagName');
    return (client, call) => client.createTag(tag, call);
  },
  getTag: byMsgId('tagId', (client, id, call) => client.getTag(id, call)),
  updateTag: byMsgIdAndBody<Tag>(
    'tagId',
    (client, id, tag, call) => client.updateTag(id, tag, call),
    'tagName',
  ),
  deleteTag: byMsgId('tagId', (client, id, call) => client.deleteTag(id, call)),
} satisfies Record<string, Operation>;

export = function (RED: NodeAPI) {
  registerOperationNode(RED, 'identities-tags', operations);
};
