/**
 * identities-people: every people endpoint (query, person, aliases, tags, notes, addresses, entity
 * fields, photos, documents, detections), the entity field settings and the caller's profile. The
 * operation comes from the dialog or msg.operation; ids come from msg (msg.personId, msg.faceId...),
 * request bodies from msg.payload.
 */
import path from 'node:path';
import type { NodeAPI } from 'node-red';
import type {
  Address,
  Alias,
  CallOptions,
  DatetimeFieldSettingRequest,
  EntityField,
  IdentitiesClient,
  Note,
  PersonTag,
  StringFieldSettingRequest,
} from '../client/client';
import type { Inputs } from './lib/inputs';
import { byMsgId, byMsgIdAndBody, byMsgIds, registerOperationNode, type Operation } from './lib/operations';

/** Entity field settings apply to people unless msg.entityType names another entity. */
const DEFAULT_ENTITY_TYPE = 'Person';

/** The file's name without the directories a file-in node puts in msg.filename. */
function documentFileName(inputs: Inputs): string | undefined {
  const filename = inputs.optionalMsgText('filename');
  return filename && path.basename(filename.replace(/\\/g, '/'));
}

/** An entity field setting: msg.entityType (people by default), msg.fieldId, and msg.payload. */
function fieldSetting<T>(
  ask: (
    client: IdentitiesClient,
    entityType: string,
    fieldId: string,
    setting: T,
    call: CallOptions,
  ) => Promise<unknown>,
): Operation {
  return async (inputs) => {
    const entityType = inputs.optionalMsgText('entityType') ?? DEFAULT_ENTITY_TYPE;
    const fieldId = inputs.msgText('fieldId');
    const setting = inputs.body<T>();
    return (client, call) => ask(client, entityType, fieldId, setting, call);
  };
}

const operations = {
  async queryPeople(inputs) {
    const query = {
      tagId: inputs.optionalMsgText('tagId'),
      entityFieldName: inputs.optionalMsgText('entityFieldName'),
      entityFieldStringValue: inputs.optionalMsgText('entityFieldStringValue'),
    };
    return (client, call) => client.queryPeople(query, call);
  },
  getPerson: byMsgId('personId', (client, id, call) => client.getPerson(id, call)),
  getAliases: byMsgId('personId', (client, id, call) => client.getAliases(id, call)),
  upsertAlias: byMsgIdAndBody<Alias>('personId', (client, personId, alias, call) =>
    client.upsertAlias(personId, alias, call),
  ),
  deleteAlias: byMsgIds('personId', 'aliasId', (client, personId, aliasId, call) =>
    client.deleteAlias(personId, aliasId, call),
  ),
  async getPersonTags(inputs) {
    const personId = inputs.msgText('personId');
    const query = { tagName: inputs.optionalMsgText('tagName') };
    return (client, call) => client.getPersonTags(personId, query, call);
  },
  upsertPersonTag: byMsgIdAndBody<PersonTag>(
    'personId',
    (client, personId, tag, call) => client.upsertPersonTag(personId, tag, call),
    'tagId',
  ),
  deletePersonTag: byMsgIds('personId', 'tagId', (client, personId, tagId, call) =>
    client.deletePersonTag(personId, tagId, call),
  ),
  getNotes: byMsgId('personId', (client, id, call) => client.getNotes(id, call)),
  upsertNote: byMsgIdAndBody<Note>('personId', (client, personId, note, call) =>
    client.upsertNote(personId, note, call),
  ),
  deleteNote: byMsgIds('personId', 'noteId', (client, personId, noteId, call) =>
    client.deleteNote(personId, noteId, call),
  ),
  upsertAddress: byMsgIdAndBody<Address>('personId', (client, personId, address, call) =>
    client.upsertAddress(personId, address, call),
  ),
  async getEntityFields(inputs) {
    const personId = inputs.msgText('personId');
    const query = { fieldName: inputs.optionalMsgText('fieldName') };
    return (client, call) => client.getEntityFields(personId, query, call);
  },
  upsertEntityField: byMsgIdAndBody<EntityField>('personId', (client, personId, field, call) =>
    client.upsertEntityField(personId, field, call),
  ),
  deleteEntityField: byMsgIds('personId', 'entityFieldId', (client, personId, id, call) =>
    client.deleteEntityField(personId, id, call),
  ),
  getEnrollmentPhoto: byMsgId('faceId', (client, id, call) => client.getEnrollmentPhoto(id, call)),
  getDetectionPhoto: byMsgIds('faceId', 'detectionId', (client, faceId, detectionId, call) =>
    client.getDetectionPhoto(faceId, detectionId, call),
  ),
  async uploadFileDocument(inputs) {
    const file = inputs.msg.payload;
    if (file === undefined || file === null) inputs.fail('missing', { field: 'file', source: 'msg.payload' });
    const upload = {
      personId: inputs.msgText('personId'),
      name: inputs.msgText('documentName'),
      description: inputs.optionalMsgText('description'),
      publicId: inputs.optionalMsgText('documentId'),
      fileName: documentFileName(inputs),
      contentType: inputs.optionalMsgText('contentType'),
      // The client takes a Buffer or text and rejects anything else, naming it.
      file: file as Buffer,
    };
    return (client, call) => client.uploadFileDocument(upload, call);
  },
  downloadFileDocument: byMsgIds('personId', 'documentId', (client, personId, documentId, call) =>
    client.downloadFileDocument(personId, documentId, call),
  ),
  getDetectionsByFace: byMsgId('faceId', (client, id, call) => client.getDetectionsByFace(id, {}, call)),
  getDetectionsByPerson: byMsgId('personId', (client, id, call) =>
    client.getDetectionsByPerson(id, {}, call),
  ),
  setStringFieldSetting: fieldSetting<StringFieldSettingRequest>(
    (client, entityType, fieldId, setting, call) =>
      client.setStringFieldSetting(entityType, fieldId, setting, call),
  ),
  setDatetimeFieldSetting: fieldSetting<DatetimeFieldSettingRequest>(
    (client, entityType, fieldId, setting, call) =>
      client.setDatetimeFieldSetting(entityType, fieldId, setting, call),
  ),
  async getUserProfile() {
    return (client, call) => client.getUserProfile(call);
  },
} satisfies Record<string, Operation>;

export = function (RED: NodeAPI) {
  registerOperationNode(RED, 'identities-people', operations);
};
