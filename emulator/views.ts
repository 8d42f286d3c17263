/** The stored records as the API shows them: the guide's shapes, and nothing the guide does not show. */
import type { components } from '../client/generated/identities';
import type { DetectionRecord, PersonRecord, Store } from './store';

type Schemas = components['schemas'];

export function friendlyName(person: PersonRecord): string | null {
  const alias = person.aliases[0];
  const name = [alias?.firstName, alias?.lastName].filter(Boolean).join(' ');
  return name || null;
}

/**
 * Get Identity's IdentityPersonItem, also each item of the people search: the six fields of the
 * guide's example. A person's tags there are `{tagId, expires, created}`, as in the example; the
 * personTagId a DELETE needs is read from GET .../tags.
 */
export function personView(person: PersonRecord): Schemas['IdentityPersonItem'] {
  return {
    personId: person.personId,
    aliases: person.aliases,
    addresses: person.addresses,
    entityFields: person.entityFields,
    tags: person.tags.map(({ tagId, expires, created }) => ({ tagId, expires, created })),
    notes: person.notes,
  };
}

export function edgePersonView(store: Store, person: PersonRecord, faceId: string): Schemas['EdgePerson'] {
  const alias = person.aliases[0];
  return {
    faceId,
    personId: person.personId,
    firstName: alias?.firstName ?? null,
    lastName: alias?.lastName ?? null,
    tags: person.tags.map((tag) => ({ name: store.tag(tag.tagId).tagName })),
  };
}

export interface PersonSections {
  names: boolean;
  addresses: boolean;
  tags: boolean;
  fields: boolean;
}

/** A record without its id: the sections of publishWithResponse's person, as its example shows them. */
function withoutId<T extends object, K extends keyof T>(records: T[], id: K): Omit<T, K>[] {
  return records.map((record) => {
    const { [id]: _id, ...rest } = record;
    return rest;
  });
}

/**
 * The person of publishWithResponse: only the sections requested and permitted. The guide's example
 * shows aliases and entity fields without their ids and tags as personTags with a slim `tag: {name}`;
 * addresses are not shown, and are given without their id like the other sections (inferred).
 */
export function faceEdgePersonView(
  store: Store,
  person: PersonRecord,
  sections: PersonSections,
): Schemas['FaceEdgePerson'] {
  return {
    personId: person.personId,
    // Inferred: the guide's example shows friendlyName beside the aliases, so it comes with includeNames.
    ...(sections.names && {
      friendlyName: friendlyName(person),
      aliases: withoutId(person.aliases, 'personAliasId'),
    }),
    ...(sections.addresses && { addresses: withoutId(person.addresses, 'personAddressId') }),
    ...(sections.tags && {
      personTags: person.tags.map(({ tagId, created, expires }) => ({
        tagId,
        created,
        expires,
        tag: { name: store.tag(tagId).tagName },
      })),
    }),
    ...(sections.fields && { entityFields: withoutId(person.entityFields, 'entityFieldId') }),
  };
}

/** An ISO-8601 UTC time as .NET writes one: no fraction when there is none. */
export function utc(time: string | number): string {
  return new Date(time).toISOString().replace('.000Z', 'Z');
}

/** A detection item exactly as the Detections page shows it, with the photo inline. */
export function detectionView(store: Store, detection: DetectionRecord): Schemas['Detection'] {
  return {
    confidence: detection.confidence,
    dateTimeUtc: utc(detection.detectTimeUtc),
    timeZone: detection.ianaTimeZone,
    detector: detection.detectorName,
    image: store.detectionPhoto(detection.detectId)?.toString('base64') ?? null,
  };
}
