/**
 * The emulator with the real face engine, through the API as a client sees it: the scenarios of
 * the face-engine issue on the public-domain photos in test/fixtures.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { IdentitiesClient } from '../../client/client';
import { ApiError } from '../../client/errors';
import { startEmulator, type Emulator } from '../../emulator/server';

const photo = (name: string) => readFileSync(path.join(__dirname, '..', 'fixtures', name));

describe('emulator with the real face engine', function () {
  this.timeout(120_000);
  let emu: Emulator;
  let client: IdentitiesClient;
  let obamaId: string;
  const [obama, obama2, biden, twoPeople] = ['obama.jpg', 'obama2.jpg', 'biden.jpg', 'two_people.jpg'].map(
    photo,
  );

  before(async () => {
    emu = await startEmulator({ https: false });
    client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
    ({ personId: obamaId } = await client.faceEnroll({ faceImage: obama!, photoReferenceId: 'obama' }));
    await client.upsertAlias(obamaId, { firstName: 'Barack', lastName: 'Obama' });
  });
  after(async () => {
    client.close();
    await emu.close();
  });

  const publish = (image: Buffer, largestFaceOnly?: boolean) =>
    client.publishWithResponse({
      expanded: image,
      detectorName: 'test',
      allowDoubleDetection: true,
      includePerson: true,
      includeNames: true,
      largestFaceOnly,
    });

  it('publishWithResponse recognises the enrolled person in another photo, and not someone else', async () => {
    const same = await publish(obama2!);
    assert.equal(same.detectedFaces.length, 1);
    assert.equal(same.detectedFaces[0]?.person?.personId, obamaId);
    assert.equal(same.detectedFaces[0]?.person?.friendlyName, 'Barack Obama');
    const other = await publish(biden!);
    assert.equal(other.detectedFaces.length, 1);
    assert.equal(other.detectedFaces[0]?.person, undefined);
  });

  it('largestFaceOnly returns one face of two_people.jpg, and without it both', async () => {
    const both = await publish(twoPeople!, false);
    assert.equal(both.detectedFaces.length, 2);
    const one = await publish(twoPeople!, true);
    assert.equal(one.detectedFaces.length, 1);
    const area = (f: { boundingBox: { width: number; height: number } }) =>
      f.boundingBox.width * f.boundingBox.height;
    assert.equal(area(one.detectedFaces[0]!), Math.max(...both.detectedFaces.map(area)));
  });

  it('faceCompare matches obama/obama2 and not obama/biden', async () => {
    const same = await client.faceCompare({ image1: obama!, image2: obama2! });
    const other = await client.faceCompare({ image1: obama!, image2: biden! });
    assert.equal(same.match, true);
    assert.equal(other.match, false);
    assert.ok(same.confidence > other.confidence);
  });

  it('faceDetect gives each face its box, and the known person', async () => {
    const { detections } = await client.faceDetect({ image: twoPeople! });
    assert.equal(detections.length, 2);
    const { width, height } = await sharp(twoPeople!).metadata();
    for (const { boundingBox: b } of detections) {
      assert.ok(
        b.x >= 0 && b.y >= 0 && b.x + b.width <= width! && b.y + b.height <= height!,
        JSON.stringify(b),
      );
    }
    const [mine] = (await client.faceDetect({ image: obama2! })).detections;
    assert.equal(mine?.personId, obamaId);
  });

  it('lookup and recognize match a cropped face', async () => {
    const [face] = (await client.faceDetect({ image: obama2! })).detections;
    const { x, y, width, height } = face!.boundingBox;
    const margin = Math.round(width * 0.2);
    const meta = await sharp(obama2!).metadata();
    const crop = await sharp(obama2!)
      .extract({
        left: Math.max(0, x - margin),
        top: Math.max(0, y - margin),
        width: Math.min(meta.width! - Math.max(0, x - margin), width + 2 * margin),
        height: Math.min(meta.height! - Math.max(0, y - margin), height + 2 * margin),
      })
      .jpeg()
      .toBuffer();
    assert.equal((await client.lookup({ croppedAligned: crop }))?.personId, obamaId);
    assert.equal((await client.recognize({ croppedAligned: crop, detectorName: 'test' }))?.personId, obamaId);
    assert.equal(await client.lookup({ croppedAligned: biden! }), null);
  });

  it('a noise image holds no face: empty detections, and 404 (null) for lookup', async () => {
    const noise = await sharp(
      Buffer.from(Array.from({ length: 160 * 160 * 3 }, (_, i) => (i * 7919) % 251)),
      {
        raw: { width: 160, height: 160, channels: 3 },
      },
    )
      .jpeg()
      .toBuffer();
    assert.deepEqual((await client.faceDetect({ image: noise })).detections, []);
    assert.deepEqual((await publish(noise)).detectedFaces, []);
    assert.equal(await client.lookup({ croppedAligned: noise }), null);
  });

  it('a truncated JPEG is a rejected image: 500 on faces/*, as the guide has it, with a clear message', async () => {
    await assert.rejects(
      client.faceDetect({ image: obama!.subarray(0, obama!.length / 2) }),
      (err: unknown) => {
        assert.ok(err instanceof ApiError);
        assert.equal(err.status, 500);
        assert.match(err.message, /Image rejected: image is not a decodable JPEG or PNG image/);
        return true;
      },
    );
  });

  it('refuses a low-quality face unless forceEnrollment, and rolls the new person back', async () => {
    // A face about 60 px wide: found, but too small to be a good enrollment photo.
    const small = await sharp(biden!).resize(120).jpeg().toBuffer();
    const before = (await client.queryPeople()).length;
    await assert.rejects(client.faceEnroll({ faceImage: small }), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 500);
      assert.match(err.message, /Image rejected: face quality 0\.\d+ is below 0\.5/);
      return true;
    });
    assert.equal((await client.queryPeople()).length, before);
    const { personId } = await client.faceEnroll({ faceImage: small, forceEnrollment: true });
    assert.equal((await client.queryPeople()).length, before + 1);
    assert.equal(
      (await client.recognize({ croppedAligned: small, detectorName: 'test' }))?.personId,
      personId,
    );
  });
});
