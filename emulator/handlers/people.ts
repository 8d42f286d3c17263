/** People and their sub-records, photos, documents and detections. */
import { randomUUID } from 'node:crypto';
import { field, HttpError, pathParam, type Handler, type RequestContext, type UploadedFile } from '../http';
import type { Services } from '../services';
import {
  NotFoundError,
  type DetectionRecord,
  type PersonRecord,
  type PersonTagRecord,
  type Store,
  type TagRecord,
} from '../store';
import { parsePeriod } from '../timespan';
import { detectionView, personView, utc } from '../views';

type PeopleOperation =
  | 'queryPeople'
  | 'queryPeopleByEntityField'
  | 'getPerson'
  | 'getAliases'
  | 'upsertAlias'
  | 'deleteAlias'
  | 'getPersonTags'
  | 'upsertPersonTag'
  | 'deletePersonTag'
  | 'getNotes'
  | 'upsertNote'
  | 'deleteNote'
  | 'upsertAddress'
  | 'getEntityFields'
  | 'upsertEntityField'
  | 'deleteEntityField'
  | 'getEnrollmentPhoto'
  | 'getDetectionPhoto'
  | 'uploadFileDocument'
  | 'downloadFileDocument'
  | 'getDetectionsByFace'
  | 'getDetectionsByPerson';

type Item = Record<string, unknown>;

/** A list of the person record whose items have ids: PUT upserts by the id, DELETE removes by it. */
interface Keyed {
  list: 'aliases' | 'addresses' | 'entityFields' | 'notes' | 'tags';
  /** The item's id field. */
  id: string;
  /** The DELETE path's parameter, where there is a DELETE. */
  param?: string;
}

/** A list whose items are stored as the body gives them (all but the person's tags). */
interface Section extends Keyed {
  /**
   * The fields a PUT stores. Any other property of the body is dropped, as .NET's model binding drops
   * unknown members: a flow that relies on an invented field sees it gone here too.
   */
  fields: readonly string[];
}

const SECTIONS = {
  aliases: {
    list: 'aliases',
    id: 'personAliasId',
    fields: ['firstName', 'lastName', 'middleName', 'title'],
    param: 'aliasId',
  },
  addresses: {
    list: 'addresses',
    id: 'personAddressId',
    fields: ['street', 'street2', 'city', 'state', 'postalCode', 'country'],
  },
  entityFields: {
    list: 'entityFields',
    id: 'entityFieldId',
    fields: ['name', 'stringValue', 'dateValue', 'numberValue', 'boolValue'],
    param: 'entityId',
  },
  notes: { list: 'notes', id: 'noteId', fields: ['summary', 'body', 'author', 'sharedId'], param: 'noteId' },
  // Its items are made by upsertPersonTag, and removed by deletePersonTag.
  tags: { list: 'tags', id: 'personTagId' },
} as const satisfies Record<string, Keyed | Section>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const items = (person: PersonRecord, section: Keyed) => person[section.list] as Item[];

/**
 * The id a PUT names, lower-cased as .NET writes a GUID, or a new one when the body has none: the
 * Person Management page's rule is that a PUT with an item's id creates or updates that item, and
 * one without an id adds a new item.
 * The guide's ids are GUIDs; a body with another id is refused (inferred: .NET cannot bind it).
 */
function idOf(body: Item, section: Keyed): string {
  const sent = body[section.id];
  if (sent === undefined || sent === null || sent === '') return randomUUID();
  if (typeof sent !== 'string' || !GUID.test(sent)) {
    throw new HttpError(400, `body.${section.id} must be a GUID`);
  }
  return sent.toLowerCase();
}

/**
 * Stores `item` under its id: in place of the item with that id, or added (also when the id is new
 * to the person: "creates or updates it").
 */
function put(list: Item[], section: Keyed, item: Item): void {
  const index = list.findIndex((existing) => existing[section.id] === item[section.id]);
  if (index < 0) list.push(item);
  else list[index] = item;
}

/**
 * An upsert of one of the plain sections. Inferred (the guide does not say): an update replaces the
 * whole item, so a field left out becomes null, as a server that binds the body to its entity does;
 * merging would let a partial update keep data here that it loses live.
 */
function upsertItem(person: PersonRecord, section: Section, body: Item): Item {
  const item: Item = { [section.id]: idOf(body, section) };
  for (const name of section.fields) item[name] = body[name] ?? null;
  put(items(person, section), section, item);
  return item;
}

/** Removes the item whose id is in the path; an unknown id is a 404 (inferred). */
function removeItem(person: PersonRecord, section: Keyed, ctx: RequestContext): void {
  const id = pathParam(ctx, section.param ?? section.id).toLowerCase();
  const list = items(person, section);
  const index = list.findIndex((item) => item[section.id] === id);
  if (index < 0) throw new NotFoundError(`${section.id} ${id} not found`);
  list.splice(index, 1);
}

/**
 * When a tag applied now without an expiry expires: now plus the tag's defaultExpirePeriod, or never
 * when that is 00:00:00.
 */
function defaultExpiry(tag: TagRecord, nowMs: number): string | null {
  const period = parsePeriod(tag.defaultExpirePeriod);
  if (typeof period === 'string' || period.ms === 0) return null;
  const expires = new Date(nowMs + period.ms);
  if (!(expires.getUTCFullYear() <= 9999)) {
    throw new HttpError(400, `tag ${tag.tagName}: its defaultExpirePeriod reaches past the year 9999`);
  }
  return utc(expires.getTime());
}

interface PeopleFilter {
  tagId?: string;
  fieldName?: string;
  /** Exact (case-sensitive) match on the field's stringValue; undefined: any person with the field set. */
  fieldValue?: string;
}

/**
 * Search People. Inferred where the guide is silent: names and values match exactly (case and all);
 * a field is "set" when one of its values is not null; with no filter every person is returned, and
 * with both filters a person must match both.
 */
function searchPeople(store: Store, { tagId, fieldName, fieldValue }: PeopleFilter): PersonRecord[] {
  return store.allPeople().filter((person) => {
    if (tagId !== undefined && !person.tags.some((t) => t.tagId === tagId.toLowerCase())) return false;
    if (fieldName === undefined) return true;
    return person.entityFields.some(
      (f) =>
        f.name === fieldName &&
        (fieldValue === undefined
          ? [f.stringValue, f.dateValue, f.numberValue, f.boolValue].some((v) => v !== null)
          : f.stringValue === fieldValue),
    );
  });
}

interface DetectionQuery {
  skip?: number;
  take?: number;
  epochStartMs?: number;
  epochEndMs?: number;
  dateAscending?: boolean;
}

/**
 * A page of detections as the Detections page documents it: skip 0, take 10 and oldest first unless
 * told otherwise; the epoch bounds are inclusive (inferred) and apply to the detection's time.
 */
function detectionsPage(
  store: Store,
  query: DetectionQuery,
  test: (detection: DetectionRecord) => boolean,
): unknown[] {
  const { skip = 0, take = 10, epochStartMs, epochEndMs, dateAscending = true } = query;
  const time = (detection: DetectionRecord) => Date.parse(detection.detectTimeUtc);
  const found = store.detectionsWhere(
    (d) =>
      test(d) &&
      (epochStartMs === undefined || time(d) >= epochStartMs) &&
      (epochEndMs === undefined || time(d) <= epochEndMs),
  );
  // A stable sort: detections of the same instant stay in the order they were recorded.
  found.sort((a, b) => time(a) - time(b));
  if (!dateAscending) found.reverse();
  return found.slice(skip, skip + take).map((detection) => detectionView(store, detection));
}

export function peopleHandlers(services: Services): Record<PeopleOperation, Handler> {
  const { store } = services;
  const personOf = (ctx: RequestContext) => store.person(pathParam(ctx, 'personId'));
  /** Runs a change on the person named in the path, saves, and replies with what `change` returns. */
  const mutate =
    (change: (person: PersonRecord, ctx: RequestContext) => unknown): Handler =>
    (ctx) => {
      const result = change(personOf(ctx), ctx);
      store.changed();
      return result === undefined ? { empty: true } : { json: result };
    };
  const upsert = (section: Section) => mutate((person, ctx) => upsertItem(person, section, ctx.body));
  const remove = (section: Keyed) => mutate((person, ctx) => removeItem(person, section, ctx));
  const people = (filter: PeopleFilter) => ({ json: searchPeople(store, filter).map(personView) });

  return {
    queryPeople: (ctx) => {
      const { tagId, entityFieldName, entityFieldStringValue } = ctx.query as Record<
        string,
        string | undefined
      >;
      // Inferred: a value without the field it belongs to is a mistake, not "no filter".
      if (entityFieldStringValue !== undefined && entityFieldName === undefined) {
        throw new HttpError(400, 'entityFieldStringValue needs entityFieldName');
      }
      return people({ tagId, fieldName: entityFieldName, fieldValue: entityFieldStringValue });
    },

    queryPeopleByEntityField: (ctx) =>
      people({ fieldName: pathParam(ctx, 'fieldName'), fieldValue: pathParam(ctx, 'fieldValue') }),

    getPerson: (ctx) => ({ json: personView(personOf(ctx)) }),

    getAliases: (ctx) => ({ json: personOf(ctx).aliases }),
    upsertAlias: upsert(SECTIONS.aliases),
    deleteAlias: remove(SECTIONS.aliases),

    getPersonTags: (ctx) => {
      const { tagName } = ctx.query as { tagName?: string };
      const tags = personOf(ctx).tags;
      return {
        json: tagName === undefined ? tags : tags.filter((t) => store.tag(t.tagId).tagName === tagName),
      };
    },
    upsertPersonTag: mutate((person, ctx) => {
      const body = ctx.body as { tagId: string; expires?: string | null };
      const tag = store.tag(body.tagId);
      // Inferred: a disabled tag is "hidden from normal use"; applying one is refused rather than
      // letting a flow depend on what a real server may refuse.
      if (tag.disabled) throw new HttpError(400, `tag ${tag.tagName} is disabled`);
      const personTagId = idOf(body, SECTIONS.tags);
      const now = Date.now();
      const record: PersonTagRecord = {
        personTagId,
        tagId: tag.tagId,
        created: person.tags.find((t) => t.personTagId === personTagId)?.created ?? utc(now),
        // Inferred: .NET binds a left-out expires and `expires: null` alike, so both get the default.
        expires: body.expires ? utc(body.expires) : defaultExpiry(tag, now),
      };
      put(person.tags, SECTIONS.tags, record);
      return record;
    }),
    // The path names a personTagId, but Get Identity shows applied tags without one (every other
    // section there shows its id), so the contract takes the tag's tagId there too (inferred): it
    // removes every application of that tag.
    deletePersonTag: mutate((person, ctx) => {
      const id = pathParam(ctx, 'personTagId').toLowerCase();
      const byPersonTagId = person.tags.filter((t) => t.personTagId !== id);
      const kept =
        byPersonTagId.length < person.tags.length ? byPersonTagId : person.tags.filter((t) => t.tagId !== id);
      if (kept.length === person.tags.length) throw new NotFoundError(`no applied tag ${id}`);
      person.tags = kept;
    }),

    getNotes: (ctx) => ({ json: personOf(ctx).notes }),
    upsertNote: upsert(SECTIONS.notes),
    deleteNote: remove(SECTIONS.notes),

    upsertAddress: upsert(SECTIONS.addresses),

    getEntityFields: (ctx) => {
      const { fieldName } = ctx.query as { fieldName?: string };
      const fields = personOf(ctx).entityFields;
      return { json: fieldName === undefined ? fields : fields.filter((f) => f.name === fieldName) };
    },
    upsertEntityField: upsert(SECTIONS.entityFields),
    deleteEntityField: remove(SECTIONS.entityFields),

    getEnrollmentPhoto: (ctx) => {
      const photo = store.enrollmentPhoto(pathParam(ctx, 'faceId'));
      if (!photo) throw new NotFoundError(`enrollment photo of face ${ctx.path.faceId} not found`);
      return { binary: photo, contentType: 'image/jpeg' };
    },

    getDetectionPhoto: (ctx) => {
      const { faceId, detectionId } = ctx.path as { faceId: string; detectionId: string };
      const detection = store.detection(detectionId);
      const photo = detection?.faceId === faceId ? store.detectionPhoto(detectionId) : undefined;
      if (!photo) throw new NotFoundError(`detection photo ${faceId}/${detectionId} not found`);
      return { binary: photo, contentType: 'image/jpeg' };
    },

    uploadFileDocument: (ctx) => {
      const { description, publicId } = ctx.fields;
      // Any form part that carries a filename: the server has checked there is one.
      const file = ctx.files.file ?? (Object.values(ctx.files)[0] as UploadedFile);
      store.addDocument(
        {
          personId: field(ctx, 'personId'),
          publicId: publicId || randomUUID(),
          name: field(ctx, 'name'),
          description: description ?? null,
          fileName: file.fileName,
          contentType: file.contentType,
          size: file.data.length,
        },
        file.data,
      );
      return { empty: true };
    },

    downloadFileDocument: (ctx) => {
      const { document, data } = store.document(pathParam(ctx, 'personId'), pathParam(ctx, 'documentId'));
      return { binary: data, contentType: document.contentType, fileName: document.fileName };
    },

    // Inferred: an unknown face has no detections (an empty list), where an unknown person is a 404.
    getDetectionsByFace: (ctx) => ({
      json: detectionsPage(store, ctx.query as DetectionQuery, (d) => d.faceId === ctx.path.faceId),
    }),

    getDetectionsByPerson: (ctx) => {
      const person = personOf(ctx);
      return {
        json: detectionsPage(store, ctx.query as DetectionQuery, (d) => d.personId === person.personId),
      };
    },
  };
}
