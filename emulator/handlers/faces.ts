/** The face edge and face recognition operations: where images meet the engine and the store. */
import { randomUUID } from 'node:crypto';
import sharp from 'sharp';
import type { PublishOptions } from '../../client/client';
import type { components } from '../../client/generated/identities';
import { euclideanDistance, ImageDecodeError, matchConfidence, type EngineFace } from '../engine/engine';
import { HttpError, image, file, pathParam, userOf, type Handler, type RequestContext } from '../http';
import type { Services } from '../services';
import type { FaceRecord } from '../store';
import { hasAny } from '../users';
import { edgePersonView, faceEdgePersonView } from '../views';

type Schemas = components['schemas'];
type PublishBody = Omit<Schemas['FaceEdgePublishRequest'], 'expanded' | 'croppedAligned'>;
/** publish's: every face, each recorded (no duplicate prevention), nothing sent back. */
const PUBLISH_OPTIONS: PublishOptions = { allowDoubleDetection: true };

const DESCRIPTOR_LENGTH = 128;

/** Scores as the docs show them (0.987), not as float noise. */
const score = (value: number) => Math.round(value * 10_000) / 10_000;

type FaceOperation =
  | 'publishWithResponse'
  | 'publish'
  | 'recognize'
  | 'lookup'
  | 'faceDetect'
  | 'faceEnroll'
  | 'faceCompare'
  | 'checkImageReference';

/**
 * Runs the engine; an image it cannot decode is the caller's mistake, named by its field: a 400, or
 * the operation's status for a rejected image (faces/*: 500, which the Face Recognition page gives
 * for an image the server refuses).
 */
async function engineCall<T>(ctx: RequestContext, field: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ImageDecodeError) throw rejected(ctx, `${field} is not a decodable JPEG or PNG image`);
    throw err;
  }
}

/** An image the operation refuses, with its status for that. */
function rejected(ctx: RequestContext, reason: string): HttpError {
  const status = ctx.route.rejectedImageStatus;
  return new HttpError(status, status === 500 ? `Image rejected: ${reason}` : reason);
}

/**
 * Caller embeddings the engine can use: 128 finite numbers, its own descriptor size. The guide gives
 * no dimension (edge models may send 512 ArcFace values), so anything else is ignored and the image
 * is used instead (inferred: a real server accepts what its models produce).
 */
function usableDescriptor(values: ArrayLike<number> | undefined): Float32Array | undefined {
  if (!values || values.length !== DESCRIPTOR_LENGTH) return undefined;
  const descriptor = Float32Array.from(values);
  return descriptor.every(Number.isFinite) ? descriptor : undefined;
}

/** lookup's Embeddings file, read as little-endian float32 values. */
function embeddingsFile(data: Buffer): Float32Array | undefined {
  if (data.length !== DESCRIPTOR_LENGTH * 4) return undefined;
  const values = new Float32Array(DESCRIPTOR_LENGTH);
  for (let i = 0; i < DESCRIPTOR_LENGTH; i++) values[i] = data.readFloatLE(i * 4);
  return usableDescriptor(values);
}

async function asJpeg(bytes: Buffer): Promise<Buffer> {
  return bytes[0] === 0xff ? bytes : sharp(bytes).jpeg({ quality: 90 }).toBuffer();
}

export function faceHandlers(services: Services): Record<FaceOperation, Handler> {
  const { store, engine } = services;
  const threshold = engine.matchThreshold;

  /** The face a descriptor belongs to: an enrolled or previously seen one, else a new unknown face. */
  const identify = (descriptor: Float32Array): FaceRecord =>
    store.nearestFace(descriptor, threshold, false)?.face ??
    store.addFace({
      personId: null,
      descriptor: Array.from(descriptor),
      photoReferenceId: null,
      enrollDetectId: null,
    });

  /** The person matching a cropped face or embeddings, or a 404 as the docs give it. */
  const matchCropped = async (
    ctx: RequestContext,
    field: string,
    face: Buffer,
    embeddings: Float32Array | undefined,
  ) => {
    let descriptor = embeddings;
    if (!descriptor) {
      const described = await engineCall(ctx, field, () => engine.describeCropped(face));
      if (!described) throw new HttpError(404, 'No face found in the image');
      descriptor = described.descriptor;
    }
    const match = store.nearestFace(descriptor, threshold, true);
    if (!match?.face.personId) throw new HttpError(404, 'No person matched the face');
    return { json: edgePersonView(store, store.person(match.face.personId), match.face.faceId) };
  };

  /**
   * Detects, identifies and records the faces of a publish. publish has none of publishWithResponse's
   * options (the guide), so they are ignored there, duplicate prevention included: the guide documents
   * none for publish (inferred: every publish is recorded, so a repeated one shows here as it may live).
   */
  const publishFaces = async (
    ctx: RequestContext,
    options: PublishOptions,
  ): Promise<Schemas['DetectedFace'][]> => {
    const body = ctx.body as PublishBody;
    const photo = image(ctx, 'expanded');
    const found = await engineCall(ctx, 'expanded', () => engine.detect(photo));
    // Detection photos are served as the documented JPEG, whatever was published.
    const storedPhoto = found.length > 0 ? await asJpeg(photo) : photo;
    const faces: EngineFace[] = options.largestFaceOnly ? found.slice(0, 1) : found;
    const callerDescriptor = usableDescriptor(body.embeddings);
    const user = userOf(ctx);
    const allowed = (name: string) => hasAny(user, ctx.route.includePermissions[name] ?? []);
    const sections = {
      names: !!options.includeNames && allowed('includeNames'),
      addresses: !!options.includeAddresses && allowed('includeAddresses'),
      tags: !!options.includeTags && allowed('includeTags'),
      fields: !!options.includeFields && allowed('includeFields'),
    };
    const now = Date.now();
    return faces.map((face, index) => {
      // Caller embeddings describe the dominant face, which the engine lists first.
      const known = identify(index === 0 && callerDescriptor ? callerDescriptor : face.descriptor);
      const duplicate = options.allowDoubleDetection
        ? undefined
        : store.latestDetectionWhere(
            (d) =>
              d.faceId === known.faceId &&
              d.detectorName === body.detectorName &&
              now - d.recordedAtMs < services.duplicateWindowMs,
          );
      const detectId = duplicate?.detectId ?? randomUUID();
      if (!duplicate) {
        store.addDetection(
          {
            detectId,
            faceId: known.faceId,
            personId: known.personId,
            detectorName: body.detectorName,
            ianaTimeZone: body.ianaTimeZone,
            detectTimeUtc: body.detectTimeUtc,
            confidence: score(face.confidence),
            faceQuality: score(face.quality),
            boundingBox: face.box,
            recordedAtMs: now,
          },
          storedPhoto,
        );
      }
      const detected: Schemas['DetectedFace'] = {
        faceId: known.faceId,
        detectId,
        confidence: score(face.confidence),
        faceQuality: score(face.quality),
        boundingBox: face.box,
      };
      if (options.includePerson && known.personId) {
        detected.person = faceEdgePersonView(store, store.person(known.personId), sections);
      }
      return detected;
    });
  };

  return {
    publishWithResponse: async (ctx) => ({
      json: { detectedFaces: await publishFaces(ctx, ctx.body as PublishOptions) },
    }),

    publish: (ctx) => {
      // Fire-and-forget: the caller is answered before recognition runs, and never hears of its outcome.
      publishFaces(ctx, PUBLISH_OPTIONS).catch((err: unknown) =>
        services.log(`publish: ${err instanceof Error ? err.message : String(err)}`),
      );
      return { empty: true };
    },

    // detectorName, ianaTimeZone and detectTimeUtc are required (the contract checks them) but not
    // recorded: the guide does not say that recognize stores a detection (inferred: it does not).
    recognize: (ctx) => {
      const { embeddings } = ctx.body as Schemas['FaceEdgeRecognizeRequest'];
      return matchCropped(ctx, 'croppedAligned', image(ctx, 'croppedAligned'), usableDescriptor(embeddings));
    },

    lookup: (ctx) => {
      const embeddings = ctx.files.Embeddings;
      return matchCropped(
        ctx,
        'CroppedAligned',
        file(ctx, 'CroppedAligned').data,
        embeddings && embeddingsFile(embeddings.data),
      );
    },

    faceDetect: async (ctx) => {
      const faces = await engineCall(ctx, 'image', () => engine.detect(image(ctx, 'image')));
      const detections = faces.map((face) => {
        const match = store.nearestFace(face.descriptor, threshold, true);
        return {
          faceId: match?.face.faceId ?? randomUUID(),
          personId: match?.face.personId ?? null,
          confidence: score(face.confidence),
          quality: score(face.quality),
          boundingBox: face.box,
        };
      });
      return { json: { detections } };
    },

    faceEnroll: async (ctx) => {
      const { personId, forceEnrollment } = ctx.query as { personId?: string; forceEnrollment?: boolean };
      const { photoReferenceId } = ctx.body as Schemas['FaceEnrollRequest'];
      const faceImage = image(ctx, 'faceImage');
      const person = personId ? store.person(personId) : store.createPerson();
      try {
        const [face] = await engineCall(ctx, 'faceImage', () => engine.detect(faceImage));
        if (!face) throw rejected(ctx, 'no face found');
        if (face.quality < services.minEnrollQuality && !forceEnrollment) {
          throw new HttpError(
            500,
            `Image rejected: face quality ${face.quality.toFixed(2)} is below ${services.minEnrollQuality} (forceEnrollment overrides)`,
          );
        }
        const enrollDetectId = randomUUID();
        const photo = await asJpeg(faceImage);
        const record = store.addFace(
          {
            personId: person.personId,
            descriptor: Array.from(face.descriptor),
            photoReferenceId: photoReferenceId ?? null,
            enrollDetectId,
          },
          photo,
        );
        // Inferred: the enrollment is recorded as a detection (detector "enrollment", zone UTC), since
        // checkImageReference answers with a detectId for the enrolled photo; the guide does not say
        // whether enrollments show in a person's detection history.
        const now = new Date();
        store.addDetection(
          {
            detectId: enrollDetectId,
            faceId: record.faceId,
            personId: person.personId,
            detectorName: 'enrollment',
            ianaTimeZone: 'UTC',
            detectTimeUtc: now.toISOString(),
            confidence: score(face.confidence),
            faceQuality: score(face.quality),
            boundingBox: face.box,
            recordedAtMs: now.getTime(),
          },
          photo,
        );
        return { json: { personId: person.personId } };
      } catch (err) {
        if (!personId) store.deletePerson(person.personId);
        throw err;
      }
    },

    faceCompare: async (ctx) => {
      const describe = async (field: 'image1' | 'image2') => {
        const [face] = await engineCall(ctx, field, () => engine.detect(image(ctx, field)));
        if (!face) throw rejected(ctx, `${field} has no face`);
        return face.descriptor;
      };
      const [first, second] = await Promise.all([describe('image1'), describe('image2')]);
      const distance = euclideanDistance(first, second);
      return {
        json: {
          match: distance <= threshold,
          confidence: score(matchConfidence(distance, threshold)),
        },
      };
    },

    checkImageReference: (ctx) => {
      const face = store.faceByReference(pathParam(ctx, 'referenceId'));
      return {
        json: face
          ? { exists: true, faceId: face.faceId, detectId: face.enrollDetectId }
          : { exists: false, faceId: null, detectId: null },
      };
    },
  };
}
