/**
 * identities-people: every people endpoint (search, person, aliases, tags, notes, addresses, entity
 * fields, photos, documents, detections), the entity field settings and the caller's profile. The
 * operation comes from the dialog or msg.operation; ids come from msg (msg.personId, msg.faceId...),
 * request bodies from msg.payload in the shapes of the vendor's guide.
 */
import path from 'node:path';
import type { NodeAPI } from 'node-red';
import type {
  Address,
  Alias,
  CallOptions,
  DatetimeFieldSettingRequest,
  DetectionsQuery,
  EntityField,
  IdentitiesClient,
  Note,
  PersonTag,
  StringFieldSettingRequest,
} from '../client/client';
import type { BodySpec, Inputs } from './lib/inputs';
import { byMsgId, byMsgIdAndBody, byMsgIds, registerOperationNode, type Operation } from './lib/operations';

/** Entity field settings apply to people unless msg.entityType names another entity. */
const DEFAULT_ENTITY_TYPE = 'Person';

/** The guide's bodies (Person Management, Get Identity), and what older versions of this package sent instead. */
const ALIAS: BodySpec = {
  shape: '{personAliasId?, firstName, lastName, middleName?, title?}',
  renamed: { aliasId: ['personAliasId'] },
};
const NOTE: BodySpec = {
  shape: '{noteId?, summary, body, author?, sharedId?}',
  renamed: { text: ['summary', 'body'] },
};
const ADDRESS: BodySpec = {
  shape: '{personAddressId?, street, street2?, city, state, postalCode, country}',
  renamed: { addressId: ['personAddressId'], line1: ['street'], line2: ['street2'] },
};
const ENTITY_FIELD: BodySpec = {
  shape: '{entityFieldId?, name, stringValue | dateValue | numberValue | boolValue}',
};
const PERSON_TAG: BodySpec = { shape: '{tagId, expires?}', text: 'tagId' };
const STRING_FIELD_SETTING: BodySpec = { shape: '{name, label, required, maxLength}' };
const DATETIME_FIELD_SETTING: BodySpec = { shape: '{name, label, required, dateOnly}' };

/** The file's name without the directories a file-in node puts in msg.filename. */
function documentFileName(inputs: Inputs): string | undefined {
  const filename = inputs.optionalMsgText('filename');
  return filename && path.basename(filename.replace(/\\/g, '/'));
}

/** An entity field setting: msg.entityType (people by default), msg.fieldId, and msg.payload. */
function fieldSetting<T>(
  spec: BodySpec,
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
    const setting = inputs.body<T>(spec);
    return (client, call) => ask(client, entityType, fieldId, setting, call);
  };
}

/** Detections of a face or a person: msg.skip, msg.take, the time window and the order, all optional. */
function detections(
  name: 'faceId' | 'personId',
  ask: (client: IdentitiesClient, id: string, query: DetectionsQuery, call: CallOptions) => Promise<unknown>,
): Operation {
  return async (inputs) => {
    const id = inputs.msgText(name);
    const query = {
      skip: inputs.optionalMsgCount('skip'),
      take: inputs.optionalMsgCount('take', 1),
      epochStartMs: inputs.optionalMsgEpochMs('epochStartMs'),
      epochEndMs: inputs.optionalMsgEpochMs('epochEndMs'),
      dateAscending: inputs.optionalMsgFlag('dateAscending'),
    };
    return (client, call) => ask(client, id, query, call);
  };
}

const operations = {
  async queryPeople(inputs) {
    // The guide's search has no tagName (nor entityFieldValue): a server would ignore them and answer everyone.
    inputs.refuseOldMsgProperties({ tagName: 'tagId', entityFieldValue: 'entityFieldStringValue' });
    const query = {
      tagId: inputs.optionalMsgText('tagId'),
      entityFieldName: inputs.optionalMsgText('entityFieldName'),
      entityFieldStringValue: inputs.optionalMsgText('entityFieldStringValue'),
    };
    return (client, call) => client.queryPeople(query, call);
  },
  async queryPeopleByEntityField(inputs) {
    const fieldName = inputs.msgText('entityFieldName', 'fieldName');
    const fieldValue = inputs.msgText('entityFieldStringValue', 'fieldValue');
    return (client, call) => client.queryPeopleByEntityField(fieldName, fieldValue, call);
  },
  getPerson: byMsgId('personId', (client, id, call) => client.getPerson(id, call)),
  getAliases: byMsgId('personId', (client, id, call) => client.getAliases(id, call)),
  upsertAlias: byMsgIdAndBody<Alias>('personId', ALIAS, (client, personId, alias, call) =>
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
  async upsertPersonTag(inputs) {
    const personId = inputs.msgText('personId');
    const tag = inputs.body<PersonTag>(PERSON_TAG);
    inputs.bodyTime(tag, 'expires');
    return (client, call) => client.upsertPersonTag(personId, tag, call);
  },
  async deletePersonTag(inputs) {
    const personId = inputs.msgText('personId');
    // No item the guide shows carries a personTagId: a tag's tagId is what a flow has at hand.
    const personTagId = inputs.optionalMsgText('personTagId') ?? inputs.msgText('tagId', 'personTagId');
    return (client, call) => client.deletePersonTag(personId, personTagId, call);
  },
  getNotes: byMsgId('personId', (client, id, call) => client.getNotes(id, call)),
  upsertNote: byMsgIdAndBody<Note>('personId', NOTE, (client, personId, note, call) =>
    client.upsertNote(personId, note, call),
  ),
  deleteNote: byMsgIds('personId', 'noteId', (client, personId, noteId, call) =>
    client.deleteNote(personId, noteId, call),
  ),
  upsertAddress: byMsgIdAndBody<Address>('personId', ADDRESS, (client, personId, address, call) =>
    client.upsertAddress(personId, address, call),
  ),
  async getEntityFields(inputs) {
    const personId = inputs.msgText('personId');
    const query = { fieldName: inputs.optionalMsgText('fieldName') };
    return (client, call) => client.getEntityFields(personId, query, call);
  },
  upsertEntityField: byMsgIdAndBody<EntityField>('personId', ENTITY_FIELD, (client, personId, field, call) =>
    client.upsertEntityField(personId, field, call),
  ),
  async deleteEntityField(inputs) {
    // Older versions deleted by name; the guide deletes by the field's id.
    inputs.refuseOldMsgProperties({ fieldName: 'entityFieldId' });
    const personId = inputs.msgText('personId');
    const entityFieldId = inputs.msgText('entityFieldId', 'entityId');
    return (client, call) => client.deleteEntityField(personId, entityFieldId, call);
  },
  getEnrollmentPhoto: byMsgId('faceId', (client, id, call) => client.getEnrollmentPhoto(id, call)),
  getDetectionPhoto: byMsgIds('faceId', 'detectionId', (client, faceId, detectionId, call) =>
    client.getDetectionPhoto(faceId, detectionId, call),
  ),
  async uploadFileDocument(inputs) {
    const file = inputs.msgValue('payload', 'file');
    const upload = {
      personId: inputs.msgText('personId'),
      name: inputs.msgText('documentName', 'name'),
      description: inputs.optionalMsgText('description'),
      publicId: inputs.optionalMsgText('documentId', 'publicId'),
      fileName: documentFileName(inputs),
      contentType: inputs.optionalMsgText('contentType'),
      // The client takes a Buffer or text and rejects anything else, naming it.
      file: file as Buffer,
    };
    return async (client, call) => {
      const stored = await client.uploadFileDocument(upload, call);
      // The id to download it by (the client made one when msg.documentId was not given).
      inputs.msg.documentId = stored.publicId;
      return stored;
    };
  },
  downloadFileDocument: byMsgIds('personId', 'documentId', (client, personId, documentId, call) =>
    client.downloadFileDocument(personId, documentId, call),
  ),
  getDetectionsByFace: detections('faceId', (client, id, query, call) =>
    client.getDetectionsByFace(id, query, call),
  ),
  getDetectionsByPerson: detections('personId', (client, id, query, call) =>
    client.getDetectionsByPerson(id, query, call),
  ),
  setStringFieldSetting: fieldSetting<StringFieldSettingRequest>(
    STRING_FIELD_SETTING,
    (client, entityType, fieldId, setting, call) =>
      client.setStringFieldSetting(entityType, fieldId, setting, call),
  ),
  setDatetimeFieldSetting: fieldSetting<DatetimeFieldSettingRequest>(
    DATETIME_FIELD_SETTING,
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
