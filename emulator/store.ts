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
import { euclideanDistance } from './engine/engine';

type Schemas = components['schemas'];
export type Alias = Schemas['Alias'];
export type Address = Schemas['Address'];
export type EntityField = Schemas['EntityField'];
export type Note = Schemas['Note'];
export type Tag = Schemas['Tag'];
export type FileDocument = Schemas['FileDocument'];
export type EntityFieldSetting = Schemas['EntityFieldSetting'];
export type BoundingBox = Schemas['BoundingBox'];

export interface PersonTagRecord {
  tagId: string;
  created: string;
  expires: string | null;
}

export interface PersonRecord {
  personId: string;
  created: string;
  aliases: Required<Alias>[];
  addresses: Address[];
  personTags: PersonTagRecord[];
  entityFields: EntityField[];
  notes: Note[];
  documents: FileDocument[];
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

interface State {
  people: PersonRecord[];
  tags: Tag[];
  faces: FaceRecord[];
  detections: DetectionRecord[];
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
  private readonly tags = new Map<string, Tag>();
  private readonly faces = new Map<string, FaceRecord>();
  private readonly detections = new Map<string, DetectionRecord>();
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
      created: new Date().toISOString(),
      aliases: [],
      addresses: [],
      personTags: [],
      entityFields: [],
      notes: [],
      documents: [],
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
    person.documents.forEach((doc) => this.blobs.delete(blobId.document(person.personId, doc.publicId)));
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
      people: [...this.people.values()],
      tags: [...this.tags.values()],
      faces: [...this.faces.values()],
      detections: [...this.detections.values()],
      fieldSettings: [...this.fieldSettings.values()],
    };
    const temp = `${this.statePath}.tmp`;
    writeFileSync(temp, JSON.stringify(state));
    renameSync(temp, this.statePath);
  }

  // ---- tags ----

  allTags(): Tag[] {
    return [...this.tags.values()];
  }

  tag(tagId: string): Tag {
    const tag = this.tags.get(tagId.toLowerCase());
    if (!tag) throw new NotFoundError(`tag ${tagId} not found`);
    return tag;
  }

  tagByName(name: string): Tag | undefined {
    return this.allTags().find((tag) => tag.name.toLowerCase() === name.toLowerCase());
  }

  saveTag(tag: Tag): Tag {
    this.tags.set(tag.tagId, tag);
    this.changed();
    return tag;
  }

  deleteTag(tagId: string): void {
    const tag = this.tag(tagId);
    this.tags.delete(tag.tagId);
    for (const person of this.people.values()) {
      person.personTags = person.personTags.filter((t) => t.tagId !== tag.tagId);
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

  /** Newest first. */
  detectionsWhere(test: (detection: DetectionRecord) => boolean): DetectionRecord[] {
    return [...this.detections.values()].filter(test).reverse();
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

  /** Adds a document, or replaces the one with the same publicId. */
  addDocument(personId: string, document: FileDocument, data: Buffer): void {
    const person = this.person(personId);
    person.documents = person.documents.filter((doc) => doc.publicId !== document.publicId).concat(document);
    this.blobs.put(blobId.document(person.personId, document.publicId), data);
    this.changed();
  }

  document(personId: string, publicId: string): { document: FileDocument; data: Buffer } {
    const person = this.person(personId);
    const document = person.documents.find((doc) => doc.publicId === publicId);
    const data = document && this.blobs.get(blobId.document(person.personId, publicId));
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

  private pruneExpiredTags(person: PersonRecord): PersonRecord {
    const now = Date.now();
    const live = person.personTags.filter((t) => t.expires === null || Date.parse(t.expires) > now);
    if (live.length !== person.personTags.length) {
      person.personTags = live;
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
    const state = JSON.parse(readFileSync(file, 'utf8')) as State;
    state.people.forEach((p) => this.people.set(p.personId, p));
    state.tags.forEach((t) => this.tags.set(t.tagId, t));
    state.faces.forEach((f) => this.faces.set(f.faceId, f));
    state.detections.forEach((d) => this.detections.set(d.detectId, d));
    state.fieldSettings.forEach((s) =>
      this.fieldSettings.set(`${s.entityType}/${s.fieldId}`.toLowerCase(), s),
    );
  }
}
