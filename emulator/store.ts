/**
 * The emulator's data: people and their sub-records, tags, faces (enrolled ones with a person,
 * unknown ones seen by a camera), detections, file documents and entity field settings. Kept in
 * memory; with a data directory every change is also written there (state.json plus one file per
 * photo or document), so a restart loses nothing.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { components } from '../client/generated/identities';
import type { BoundingBox } from './engine/engine';
import { euclideanDistance } from './engine/engine';
import { NO_EXPIRY } from './timespan';

export type EntityFieldSetting = components['schemas']['EntityFieldSetting'];

// The records as the guide shows them (Get Identity, Person Management, Tag Management); ids are
// lower-case GUIDs, as .NET writes them.

export type AliasRecord = {
  personAliasId: string;
  firstName: string | null;
  lastName: string | null;
  middleName: string | null;
  title: string | null;
};

export type AddressRecord = {
  personAddressId: string;
  street: string | null;
  street2: string | null;
  city: string | null;
  state: string | null;
  postalCode: string | null;
  country: string | null;
};

export type EntityFieldRecord = {
  entityFieldId: string;
  name: string;
  stringValue: string | null;
  dateValue: string | null;
  numberValue: number | null;
  boolValue: boolean | null;
};

export type NoteRecord = {
  noteId: string;
  summary: string | null;
  body: string | null;
  author: string | null;
  sharedId: string | null;
};

/** A tag applied to a person. */
export type PersonTagRecord = {
  personTagId: string;
  tagId: string;
  created: string;
  expires: string | null;
};

/** A tag definition. */
export type TagRecord = {
  tagId: string;
  tagName: string;
  disabled: boolean;
  description: string | null;
  /** As .NET prints a TimeSpan; NO_EXPIRY for none. */
  defaultExpirePeriod: string;
};

export interface PersonRecord {
  personId: string;
  aliases: AliasRecord[];
  addresses: AddressRecord[];
  entityFields: EntityFieldRecord[];
  tags: PersonTagRecord[];
  notes: NoteRecord[];
}

/** A person's file document: not part of the person record (Get Identity shows none). */
export interface DocumentRecord {
  personId: string;
  publicId: string;
  name: string;
  description: string | null;
  fileName: string;
  contentType: string;
  size: number;
}

export interface FaceRecord {
  faceId: string;
  /** null for a face seen by a camera that matches nobody enrolled. */
  personId: string | null;
  descriptor: number[];
  photoReferenceId: string | null;
  /** The detection the enrollment photo was stored as (checkImageReference's detectId). */
  enrollDetectId: string | null;
  created: string;
}

export interface DetectionRecord {
  detectId: string;
  faceId: string;
  personId: string | null;
  detectorName: string;
  ianaTimeZone: string;
  detectTimeUtc: string;
  confidence: number;
  faceQuality: number;
  boundingBox: BoundingBox;
  /** When the emulator recorded it, for duplicate-detection prevention. */
  recordedAtMs: number;
}

const STATE_VERSION = 2;

interface State {
  version: typeof STATE_VERSION;
  people: PersonRecord[];
  tags: TagRecord[];
  faces: FaceRecord[];
  detections: DetectionRecord[];
  documents: DocumentRecord[];
  fieldSettings: EntityFieldSetting[];
}

export class NotFoundError extends Error {}

export interface StoreOptions {
  dataDir?: string;
  /** Oldest detections (and their photos) are dropped beyond this many. */
  maxDetections?: number;
  /** Oldest unknown faces are forgotten beyond this many. */
  maxUnknownFaces?: number;
}

const SAVE_DELAY_MS = 50;

/** Photos and documents: files in the data directory, or memory without one. */
class BlobStore {
  private readonly memory = new Map<string, Buffer>();

  constructor(private readonly dir: string | undefined) {
    if (dir) mkdirSync(dir, { recursive: true });
  }

  put(id: string, data: Buffer): void {
    if (this.dir) writeFileSync(path.join(this.dir, id), data);
    else this.memory.set(id, data);
  }

  get(id: string): Buffer | undefined {
    if (!this.dir) return this.memory.get(id);
    const file = path.join(this.dir, id);
    return existsSync(file) ? readFileSync(file) : undefined;
  }

  delete(id: string): void {
    if (this.dir) rmSync(path.join(this.dir, id), { force: true });
    else this.memory.delete(id);
  }
}

/** Blob ids are derived, never taken from a request, so no request can name a path. */
const blobId = {
  enrollment: (faceId: string) => `enroll-${faceId}`,
  detection: (detectId: string) => `detect-${detectId}`,
  document: (personId: string, publicId: string) =>
    `doc-${createHash('sha256').update(`${personId}/${publicId}`).digest('hex')}`,
};

export class Store {
  private readonly people = new Map<string, PersonRecord>();
  private readonly tags = new Map<string, TagRecord>();
  private readonly faces = new Map<string, FaceRecord>();
  private readonly detections = new Map<string, DetectionRecord>();
  /** By blob id, so a person's document and its bytes share one key. */
  private readonly documents = new Map<string, DocumentRecord>();
  private readonly fieldSettings = new Map<string, EntityFieldSetting>();
  private readonly blobs: BlobStore;
  private readonly statePath: string | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private readonly maxDetections: number;
  private readonly maxUnknownFaces: number;

  constructor(options: StoreOptions = {}) {
    this.maxDetections = options.maxDetections ?? 5000;
    this.maxUnknownFaces = options.maxUnknownFaces ?? 5000;
    this.blobs = new BlobStore(options.dataDir && path.join(options.dataDir, 'blobs'));
    this.statePath = options.dataDir && path.join(options.dataDir, 'state.json');
    if (this.statePath && existsSync(this.statePath)) this.load(this.statePath);
  }

  // ---- people ----

  createPerson(): PersonRecord {
    const person: PersonRecord = {
      personId: randomUUID(),
      aliases: [],
      addresses: [],
      entityFields: [],
      tags: [],
      notes: [],
    };
    this.people.set(person.personId, person);
    this.changed();
    return person;
  }

  person(personId: string): PersonRecord {
    const person = this.people.get(personId.toLowerCase());
    if (!person) throw new NotFoundError(`person ${personId} not found`);
    this.pruneExpiredTags(person);
    return person;
  }

  /** In the order they were created. */
  allPeople(): PersonRecord[] {
    return [...this.people.values()].map((person) => this.pruneExpiredTags(person));
  }

  /** Removes a person and everything of theirs (enrollment rollback). */
  deletePerson(personId: string): void {
    const person = this.person(personId);
    for (const face of this.facesOf(person.personId)) {
      this.faces.delete(face.faceId);
      this.blobs.delete(blobId.enrollment(face.faceId));
    }
    for (const [id, document] of this.documents) {
      if (document.personId !== person.personId) continue;
      this.documents.delete(id);
      this.blobs.delete(id);
    }
    this.people.delete(person.personId);
    this.changed();
  }

  /** Marks the state as changed after a mutation of a record returned by this store. */
  changed(): void {
    if (!this.statePath || this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.flush(), SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  /** Writes the state now (atomically: a crash mid-write leaves the previous file). */
  flush(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.statePath) return;
    const state: State = {
      version: STATE_VERSION,
      people: [...this.people.values()],
      tags: [...this.tags.values()],
      faces: [...this.faces.values()],
      detections: [...this.detections.values()],
      documents: [...this.documents.values()],
      fieldSettings: [...this.fieldSettings.values()],
    };
    const temp = `${this.statePath}.tmp`;
    writeFileSync(temp, JSON.stringify(state));
    renameSync(temp, this.statePath);
  }

  // ---- tags ----

  /** In the order they were created. */
  allTags(): TagRecord[] {
    return [...this.tags.values()];
  }

  tag(tagId: string): TagRecord {
    const tag = this.tags.get(tagId.toLowerCase());
    if (!tag) throw new NotFoundError(`tag ${tagId} not found`);
    return tag;
  }

  saveTag(tag: TagRecord): TagRecord {
    this.tags.set(tag.tagId, tag);
    this.changed();
    return tag;
  }

  /** Removes the tag and (inferred: the guide does not say) its applications to people. */
  deleteTag(tagId: string): void {
    const tag = this.tag(tagId);
    this.tags.delete(tag.tagId);
    for (const person of this.people.values()) {
      person.tags = person.tags.filter((t) => t.tagId !== tag.tagId);
    }
    this.changed();
  }

  // ---- faces ----

  facesOf(personId: string): FaceRecord[] {
    return [...this.faces.values()].filter((face) => face.personId === personId);
  }

  face(faceId: string): FaceRecord | undefined {
    return this.faces.get(faceId);
  }

  addFace(face: Omit<FaceRecord, 'faceId' | 'created'>, enrollmentPhoto?: Buffer): FaceRecord {
    const record: FaceRecord = { ...face, faceId: randomUUID(), created: new Date().toISOString() };
    this.faces.set(record.faceId, record);
    if (enrollmentPhoto) this.blobs.put(blobId.enrollment(record.faceId), enrollmentPhoto);
    if (record.personId === null) this.evictUnknownFaces();
    this.changed();
    return record;
  }

  faceByReference(photoReferenceId: string): FaceRecord | undefined {
    return [...this.faces.values()].find((face) => face.photoReferenceId === photoReferenceId);
  }

  /**
   * The closest face within `threshold`. A known person beats an unknown face at any distance, so
   * a visitor seen before enrollment is still recognised as the person afterwards.
   */
  nearestFace(
    descriptor: ArrayLike<number>,
    threshold: number,
    enrolledOnly: boolean,
  ): { face: FaceRecord; distance: number } | undefined {
    let best: { face: FaceRecord; distance: number } | undefined;
    for (const face of this.faces.values()) {
      if (enrolledOnly && face.personId === null) continue;
      const distance = euclideanDistance(descriptor, face.descriptor);
      if (distance > threshold) continue;
      const rank = (f: FaceRecord) => (f.personId === null ? 1 : 0);
      if (
        !best ||
        rank(face) < rank(best.face) ||
        (rank(face) === rank(best.face) && distance < best.distance)
      ) {
        best = { face, distance };
      }
    }
    return best;
  }

  enrollmentPhoto(faceId: string): Buffer | undefined {
    return this.blobs.get(blobId.enrollment(faceId));
  }

  // ---- detections ----

  addDetection(detection: DetectionRecord, photo: Buffer): void {
    this.detections.set(detection.detectId, detection);
    this.blobs.put(blobId.detection(detection.detectId), photo);
    // Map iteration is insertion order, so the first keys are the oldest.
    for (const oldest of this.detections.keys()) {
      if (this.detections.size <= this.maxDetections) break;
      this.detections.delete(oldest);
      this.blobs.delete(blobId.detection(oldest));
    }
    this.changed();
  }

  /** In the order they were recorded. */
  detectionsWhere(test: (detection: DetectionRecord) => boolean): DetectionRecord[] {
    return [...this.detections.values()].filter(test);
  }

  /** The newest detection that passes `test`, without copying the store (a publish asks per face). */
  latestDetectionWhere(test: (detection: DetectionRecord) => boolean): DetectionRecord | undefined {
    let latest: DetectionRecord | undefined;
    for (const detection of this.detections.values()) if (test(detection)) latest = detection;
    return latest;
  }

  detection(detectId: string): DetectionRecord | undefined {
    return this.detections.get(detectId);
  }

  detectionPhoto(detectId: string): Buffer | undefined {
    return this.blobs.get(blobId.detection(detectId));
  }

  // ---- documents ----

  /** Adds a document, or replaces the person's one with the same publicId (inferred: the guide is silent). */
  addDocument(document: DocumentRecord, data: Buffer): void {
    const person = this.person(document.personId);
    const id = blobId.document(person.personId, document.publicId);
    this.documents.set(id, { ...document, personId: person.personId });
    this.blobs.put(id, data);
    this.changed();
  }

  document(personId: string, publicId: string): { document: DocumentRecord; data: Buffer } {
    const id = blobId.document(this.person(personId).personId, publicId);
    const document = this.documents.get(id);
    const data = document && this.blobs.get(id);
    if (!document || !data) throw new NotFoundError(`document ${publicId} not found`);
    return { document, data };
  }

  // ---- entity field settings ----

  saveFieldSetting(setting: EntityFieldSetting): EntityFieldSetting {
    this.fieldSettings.set(`${setting.entityType}/${setting.fieldId}`.toLowerCase(), setting);
    this.changed();
    return setting;
  }

  // ---- internals ----

  /**
   * Expired tags stop applying (the user guide); that they are then dropped from the record, not
   * kept and hidden, is inferred.
   */
  private pruneExpiredTags(person: PersonRecord): PersonRecord {
    const now = Date.now();
    const live = person.tags.filter((t) => t.expires === null || Date.parse(t.expires) > now);
    if (live.length !== person.tags.length) {
      person.tags = live;
      this.changed();
    }
    return person;
  }

  private evictUnknownFaces(): void {
    const unknown = [...this.faces.values()].filter((face) => face.personId === null);
    for (const face of unknown.slice(0, Math.max(0, unknown.length - this.maxUnknownFaces))) {
      this.faces.delete(face.faceId);
    }
  }

  private load(file: string): void {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { version?: number };
    const state = raw.version === STATE_VERSION ? (raw as State) : migrateFromVersion1(raw as StateV1);
    state.people.forEach((p) => this.people.set(p.personId, p));
    state.tags.forEach((t) => this.tags.set(t.tagId, t));
    state.faces.forEach((f) => this.faces.set(f.faceId, f));
    state.detections.forEach((d) => this.detections.set(d.detectId, d));
    state.documents.forEach((d) => this.documents.set(blobId.document(d.personId, d.publicId), d));
    state.fieldSettings.forEach((s) =>
      this.fieldSettings.set(`${s.entityType}/${s.fieldId}`.toLowerCase(), s),
    );
  }
}

/** The state.json of the emulator before issue 12, with its own names for the guide's fields. */
interface StateV1 {
  people: {
    personId: string;
    aliases: ({ aliasId: string } & Omit<AliasRecord, 'personAliasId'>)[];
    addresses: {
      addressId: string;
      line1: string | null;
      line2: string | null;
      city: string | null;
      state: string | null;
      postalCode: string | null;
      country: string | null;
    }[];
    personTags: { tagId: string; created: string; expires: string | null }[];
    entityFields: Omit<EntityFieldRecord, 'entityFieldId'>[];
    notes: { noteId: string; text: string }[];
    documents: (Omit<DocumentRecord, 'personId' | 'fileName'> & { fileName: string | null })[];
  }[];
  tags: { tagId: string; name: string; description: string | null; defaultExpiryDays: number | null }[];
  faces: FaceRecord[];
  detections: DetectionRecord[];
  fieldSettings: EntityFieldSetting[];
}

/** A data directory written before issue 12, read with the guide's names (a note's text becomes its body). */
function migrateFromVersion1(old: StateV1): State {
  return {
    version: STATE_VERSION,
    people: old.people.map((p) => ({
      personId: p.personId,
      aliases: p.aliases.map(({ aliasId, ...alias }) => ({ personAliasId: aliasId, ...alias })),
      addresses: p.addresses.map((a) => ({
        personAddressId: a.addressId,
        street: a.line1,
        street2: a.line2,
        city: a.city,
        state: a.state,
        postalCode: a.postalCode,
        country: a.country,
      })),
      entityFields: p.entityFields.map((field) => ({ entityFieldId: randomUUID(), ...field })),
      tags: p.personTags.map((tag) => ({ personTagId: randomUUID(), ...tag })),
      notes: p.notes.map((n) => ({
        noteId: n.noteId,
        summary: null,
        body: n.text,
        author: null,
        sharedId: null,
      })),
    })),
    tags: old.tags.map((t) => ({
      tagId: t.tagId,
      tagName: t.name,
      disabled: false,
      description: t.description,
      defaultExpirePeriod: t.defaultExpiryDays ? `${t.defaultExpiryDays}.00:00:00` : NO_EXPIRY,
    })),
    faces: old.faces,
    detections: old.detections,
    documents: old.people.flatMap((p) =>
      p.documents.map((d) => ({ ...d, personId: p.personId, fileName: d.fileName ?? 'document' })),
    ),
    fieldSettings: old.fieldSettings,
  };
}
