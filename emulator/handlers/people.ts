/** People and their sub-records, photos, documents and detections. */
import { randomUUID } from 'node:crypto';
import type { components, operations } from '../../client/generated/identities';
import { field, HttpError, pathParam, type Handler, type RequestContext, type UploadedFile } from '../http';
import type { Services } from '../services';
import { NotFoundError, type PersonRecord } from '../store';
import { detectionView, personTagView, personView } from '../views';

type Schemas = components['schemas'];
type PeopleQuery = NonNullable<operations['queryPeople']['parameters']['query']>;

type PeopleOperation =
  | 'queryPeople'
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

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Upsert into a list by id: the item whose id matches gets the given properties, else a new item
 * with the given id (or a fresh one) is appended.
 */
function upsert<T extends object, K extends keyof T>(
  list: T[],
  key: K,
  changes: Partial<T>,
  blank: Omit<T, K>,
): T {
  const id = changes[key];
  const existing = id === undefined ? undefined : list.find((item) => item[key] === id);
  if (existing) return Object.assign(existing, changes);
  const created = { ...blank, ...changes, [key]: id ?? randomUUID() } as T;
  list.push(created);
  return created;
}

/** Removes the item whose `key` equals `id`, or 404s naming what was not there. */
function removeFrom<T>(list: T[], matches: (item: T) => boolean, what: string): T[] {
  const kept = list.filter((item) => !matches(item));
  if (kept.length === list.length) throw new NotFoundError(`${what} not found`);
  return kept;
}

function fieldMatches(field: Schemas['EntityField'], value: string): boolean {
  return [field.stringValue, field.numberValue, field.boolValue, field.dateValue].some(
    (v) => v !== null && v !== undefined && String(v).toLowerCase() === value.toLowerCase(),
  );
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

  return {
    queryPeople: (ctx) => {
      const {
        tagId,
        tagName,
        entityFieldName,
        entityFieldValue,
        skip = 0,
        take = 100,
      } = ctx.query as PeopleQuery;
      if (entityFieldValue !== undefined && entityFieldName === undefined) {
        throw new HttpError(400, 'entityFieldValue needs entityFieldName');
      }
      const named = tagName === undefined ? undefined : store.tagByName(tagName);
      if (tagName !== undefined && !named) return { json: [] };
      const tagIds = [tagId?.toLowerCase(), named?.tagId].filter((id) => id !== undefined);
      const people = store.allPeople().filter((person) => {
        if (!tagIds.every((id) => person.personTags.some((t) => t.tagId === id))) return false;
        if (entityFieldName === undefined) return true;
        const field = person.entityFields.find((f) => f.name.toLowerCase() === entityFieldName.toLowerCase());
        return !!field && (entityFieldValue === undefined || fieldMatches(field, entityFieldValue));
      });
      return { json: people.slice(skip, skip + take).map((person) => personView(store, person)) };
    },

    getPerson: (ctx) => ({ json: personView(store, personOf(ctx)) }),

    getAliases: (ctx) => ({ json: personOf(ctx).aliases }),
    upsertAlias: mutate((person, ctx) =>
      upsert(person.aliases, 'aliasId', ctx.body as Schemas['AliasUpsert'], {
        firstName: null,
        lastName: null,
        middleName: null,
        title: null,
      }),
    ),
    deleteAlias: mutate((person, ctx) => {
      const aliasId = String(ctx.query.aliasId).toLowerCase();
      person.aliases = removeFrom(person.aliases, (a) => a.aliasId === aliasId, `alias ${aliasId}`);
    }),

    getPersonTags: (ctx) => ({ json: personOf(ctx).personTags.map((tag) => personTagView(store, tag)) }),
    upsertPersonTag: mutate((person, ctx) => {
      const body = ctx.body as Schemas['PersonTagUpsert'];
      const tag = store.tag(body.tagId);
      const expires =
        body.expires !== undefined
          ? body.expires
          : tag.defaultExpiryDays
            ? new Date(Date.now() + tag.defaultExpiryDays * DAY_MS).toISOString()
            : null;
      const record = upsert(
        person.personTags,
        'tagId',
        { tagId: tag.tagId, expires },
        {
          created: new Date().toISOString(),
          expires: null,
        },
      );
      return personTagView(store, record);
    }),
    deletePersonTag: mutate((person, ctx) => {
      const tagId = String(ctx.query.tagId).toLowerCase();
      person.personTags = removeFrom(person.personTags, (t) => t.tagId === tagId, `person tag ${tagId}`);
    }),

    getNotes: (ctx) => ({ json: personOf(ctx).notes }),
    upsertNote: mutate((person, ctx) => {
      const { noteId, text } = ctx.body as Schemas['NoteUpsert'];
      const now = new Date().toISOString();
      const existing = person.notes.some((n) => n.noteId === noteId);
      return upsert(person.notes, 'noteId', existing ? { noteId, text, modified: now } : { noteId, text }, {
        text,
        created: now,
        modified: null,
      });
    }),
    deleteNote: mutate((person, ctx) => {
      const noteId = String(ctx.query.noteId).toLowerCase();
      person.notes = removeFrom(person.notes, (n) => n.noteId === noteId, `note ${noteId}`);
    }),

    upsertAddress: mutate((person, ctx) =>
      upsert(person.addresses, 'addressId', ctx.body as Schemas['AddressUpsert'], {
        addressType: null,
        line1: null,
        line2: null,
        city: null,
        state: null,
        postalCode: null,
        country: null,
      }),
    ),

    getEntityFields: (ctx) => ({ json: personOf(ctx).entityFields }),
    upsertEntityField: mutate((person, ctx) => {
      const field = {
        stringValue: null,
        dateValue: null,
        numberValue: null,
        boolValue: null,
        ...(ctx.body as Schemas['EntityField']),
      };
      person.entityFields = person.entityFields
        .filter((f) => f.name.toLowerCase() !== field.name.toLowerCase())
        .concat(field);
      return field;
    }),
    deleteEntityField: mutate((person, ctx) => {
      const name = String(ctx.query.name).toLowerCase();
      person.entityFields = removeFrom(
        person.entityFields,
        (f) => f.name.toLowerCase() === name,
        `entity field ${name}`,
      );
    }),

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
        field(ctx, 'personId'),
        {
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
      return { binary: data, contentType: document.contentType, fileName: document.fileName ?? undefined };
    },

    getDetectionsByFace: (ctx) => ({
      json: store.detectionsWhere((d) => d.faceId === ctx.path.faceId).map(detectionView),
    }),

    getDetectionsByPerson: (ctx) => {
      const person = personOf(ctx);
      return {
        json: store
          .detectionsWhere((d) => d.personId === person.personId)
          .map(({ recordedAtMs: _, ...d }) => d),
      };
    },
  };
}
