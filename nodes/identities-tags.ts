/**
 * identities-tags: the Tags endpoints (list, create, get, update, delete). The operation comes from
 * the dialog or msg.operation, the tag's id from msg.tagId, the tag itself from msg.payload.
 */
import type { NodeAPI } from 'node-red';
import type { TagRequest } from '../client/client';
import { byMsgId, byMsgIdAndBody, registerOperationNode, type Operation } from './lib/operations';

const operations = {
  async listTags() {
    return (client, call) => client.listTags(call);
  },
  async createTag(inputs) {
    const tag = inputs.body<TagRequest>('name');
    return (client, call) => client.createTag(tag, call);
  },
  getTag: byMsgId('tagId', (client, id, call) => client.getTag(id, call)),
  updateTag: byMsgIdAndBody<TagRequest>(
    'tagId',
    (client, id, tag, call) => client.updateTag(id, tag, call),
    'name',
  ),
  deleteTag: byMsgId('tagId', (client, id, call) => client.deleteTag(id, call)),
} satisfies Record<string, Operation>;

export = function (RED: NodeAPI) {
  registerOperationNode(RED, 'identities-tags', operations);
};
