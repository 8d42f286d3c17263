/** The stored records as the API shows them. */
import type { components } from '../client/generated/identities';
import type { DetectionRecord, PersonRecord, PersonTagRecord, Store } from './store';

type Schemas = components['schemas'];

export function friendlyName(person: PersonRecord): string | null {
  const alias = person.aliases[0];
  const name = [alias?.firstName, alias?.lastName].filter(Boolean).join(' ');
  return name || null;
}

export function personTagView(store: Store, tag: PersonTagRecord): Schemas['PersonTag'] {
  return {
    tagId: tag.tagId,
    created: tag.created,
    expires: tag.expires,
    tag: { name: store.tag(tag.tagId).name },
  };
}

export function personView(store: Store, person: PersonRecord): Schemas['Person'] {
  return {
    personId: person.personId,
    friendlyName: friendlyName(person),
    aliases: person.aliases,
    addresses: person.addresses,
    personTags: person.personTags.map((tag) => personTagView(store, tag)),
    entityFields: person.entityFields,
    faces: store.facesOf(person.personId).map(({ faceId, photoReferenceId, created }) => ({
      faceId,
      photoReferenceId,
      created,
    })),
    fileDocuments: person.documents,
    created: person.created,
  };
}

export function edgePersonView(store: Store, person: PersonRecord, faceId: string): Schemas['EdgePerson'] {
  const alias = person.aliases[0];
  return {
    faceId,
    personId: person.personId,
    firstName: alias?.firstName ?? null,
    lastName: alias?.lastName ?? null,
    tags: person.personTags.map((tag) => ({ name: store.tag(tag.tagId).name })),
  };
}

export interface PersonSections {
  names: boolean;
  addresses: boolean;
  tags: boolean;
  fields: boolean;
}

/** The person of publishWithResponse: only the sections requested and permitted. */
export function faceEdgePersonView(
  store: Store,
  person: PersonRecord,
  sections: PersonSections,
): Schemas['FaceEdgePerson'] {
  return {
    personId: person.personId,
    ...(sections.names && { friendlyName: friendlyName(person), aliases: person.aliases }),
    ...(sections.addresses && { addresses: person.addresses }),
    ...(sections.tags && { personTags: person.personTags.map((tag) => personTagView(store, tag)) }),
    ...(sections.fields && { entityFields: person.entityFields }),
  };
}

export function detectionView({
  recordedAtMs: _recordedAtMs,
  ...detection
}: DetectionRecord): Schemas['Detection'] {
  return detection;
}
