import assert from 'node:assert/strict';
import { IdentitiesClient } from '../../client/client';
import type { Emulator } from '../../emulator/server';
import {
  credentials,
  emulator,
  face,
  helper,
  helperNodes,
  load,
  nextError,
  nextMessage,
  noFace,
  send,
  serverNode,
  statuses,
  type FlowNode,
  assertErrorCode,
} from './harness';

function publishNode(settings: Record<string, unknown> = {}): FlowNode {
  return {
    id: 'publish',
    type: 'identities-publish',
    server: 'server',
    mode: 'withResponse',
    split: 'all',
    separateOutputs: true,
    outputs: 3,
    image: 'payload',
    imageType: 'msg',
    detectorName: 'FrontDoor',
    detectorNameType: 'str',
    ianaTimeZone: '',
    ianaTimeZoneType: 'str',
    detectTime: 'detectTime',
    detectTimeType: 'msg',
    allowDoubleDetection: 'true',
    allowDoubleDetectionType: 'bool',
    wires: [['matched'], ['unknown'], ['none']],
    ...settings,
  };
}

describe('identities-publish', function () {
  let emu: Emulator;
  let known: Buffer;
  let stranger: Buffer;
  let personId: string;

  before(async function () {
    emu = await emulator();
    known = await face(10);
    stranger = await face(250);
    const client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
    personId = (await client.faceEnroll({ faceImage: known })).personId;
    await client.upsertAlias(personId, { firstName: 'Jane', lastName: 'Doe' });
    client.close();
  });

  after(async function () {
    await emu.close();
  });

  afterEach(async function () {
    await helper.unload();
  });

  async function loadPublish(settings: Record<string, unknown> = {}, user = 'admin') {
    await load(
      [serverNode(emu), publishNode(settings), ...helperNodes('matched', 'unknown', 'none', 'out')],
      credentials(user),
    );
  }

  it('sends a matched face to output 1 with the person, labelled by name, boxes to draw and the image', async function () {
    await loadPublish();
    const matched = nextMessage('matched');
    send('publish', { payload: known, topic: 'door' });
    const msg = await matched;
    const faces = (msg.payload as { detectedFaces: { person?: { personId: string } }[] }).detectedFaces;
    assert.equal(faces.length, 1);
    assert.equal(faces[0]!.person?.personId, personId);
    assert.equal(msg.topic, 'door', 'the incoming message is reused');
    assert.deepEqual(msg.annotations, [{ type: 'rect', bbox: [0, 0, 64, 64], label: 'Jane Doe' }]);
    assert.equal(msg.image, known);
    assert.deepEqual(statuses('publish')[0], { fill: 'blue', shape: 'dot', text: 'requesting' });
    // Separate outputs ask for the names, though "with names" is off: the status and the labels show them.
    assert.deepEqual(statuses('publish').at(-1), { fill: 'green', shape: 'dot', text: 'Jane Doe' });
  });

  it('runs a node stored without most settings (by hand, or by an older version) on the editor defaults', async function () {
    await load(
      [
        serverNode(emu),
        {
          id: 'publish',
          type: 'identities-publish',
          server: 'server',
          detectorName: 'Door',
          wires: [['out']],
        },
        ...helperNodes('out'),
      ],
      credentials('admin'),
    );
    const out = nextMessage('out');
    // The image from msg.payload, the time from msg.detectTime: the editor's defaults.
    send('publish', { payload: known, detectTime: '2026-02-03T04:05:06Z' });
    const faces = ((await out).payload as { detectedFaces: { faceId: string; person?: unknown }[] })
      .detectedFaces;
    assert.equal(faces.length, 1);
    assert.equal(faces[0]!.person, undefined, 'include person is off by default');
    const client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
    const detections = await client.getDetectionsByFace(faces[0]!.faceId, { dateAscending: false });
    client.close();
    assert.ok(detections.some((d) => d.detector === 'Door' && d.dateTimeUtc === '2026-02-03T04:05:06Z'));
  });

  it('sends an unknown face to output 2 and an image without a face to output 3, as results', async function () {
    await loadPublish();
    const unknown = nextMessage('unknown');
    send('publish', { payload: stranger });
    const unknownMsg = await unknown;
    assert.equal((unknownMsg.annotations as { label: string }[])[0]!.label, 'unknown');

    const none = nextMessage('none');
    send('publish', { payload: await noFace() });
    assert.deepEqual((await none).payload, { detectedFaces: [] });
    assert.deepEqual(statuses('publish').at(-1), { fill: 'green', shape: 'dot', text: 'no face' });
  });

  it('sends one message per face, with msg.parts for a join node', async function () {
    await loadPublish({
      split: 'each',
      separateOutputs: false,
      outputs: 1,
      includePerson: 'true',
      includePersonType: 'bool',
      wires: [['out']],
    });
    const out = nextMessage('out');
    send('publish', { payload: known, parts: { id: 'outer', index: 2, count: 5 } });
    const msg = await out;
    assert.equal((msg.payload as { person: { personId: string } }).person.personId, personId);
    const parts = msg.parts as { index: number; count: number; type: string; parts: { id: string } };
    assert.equal(parts.index, 0);
    assert.equal(parts.count, 1);
    assert.equal(parts.type, 'array');
    assert.equal(parts.parts.id, 'outer', 'the incoming sequence is kept underneath');
  });

  it('publishes fire-and-forget and passes the message on unchanged, without reading publishWithResponse switches', async function () {
    await loadPublish({
      mode: 'fireAndForget',
      separateOutputs: false,
      outputs: 1,
      // Not read in this mode: as values they would fail every message.
      largestFaceOnly: 'largest',
      largestFaceOnlyType: 'msg',
      allowDoubleDetection: 'double',
      allowDoubleDetectionType: 'msg',
      wires: [['out']],
    });
    const published = emu.counts.publish ?? 0;
    const withResponse = emu.counts.publishWithResponse ?? 0;
    const out = nextMessage('out');
    send('publish', { payload: known, topic: 't', largest: 'maybe', double: 42 });
    const msg = await out;
    assert.equal(msg.payload, known);
    assert.equal(emu.counts.publish, published + 1);
    assert.equal(emu.counts.publishWithResponse ?? 0, withResponse);
    assert.deepEqual(statuses('publish').at(-1), { fill: 'green', shape: 'dot', text: 'published' });
  });

  it('takes the detector name, time zone and detection time from the message when told to', async function () {
    await loadPublish({
      detectorName: 'camera',
      detectorNameType: 'msg',
      ianaTimeZone: 'zone',
      ianaTimeZoneType: 'msg',
    });
    const matched = nextMessage('matched');
    send('publish', {
      payload: known,
      camera: 'BackDoor',
      zone: 'Europe/Paris',
      detectTime: '2026-01-02T03:04:05Z',
    });
    const msg = await matched;
    const faceId = (msg.payload as { detectedFaces: { faceId: string }[] }).detectedFaces[0]!.faceId;
    const client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
    const detections = await client.getDetectionsByFace(faceId, { dateAscending: false });
    client.close();
    const detection = detections.find((d) => d.detector === 'BackDoor');
    assert.ok(detection, 'the detection carries the detector name from msg.camera');
    assert.equal(detection.timeZone, 'Europe/Paris');
    assert.equal(detection.dateTimeUtc, '2026-01-02T03:04:05Z');
  });

  const badInputs: [string, () => Promise<Record<string, unknown>>, Record<string, unknown>, RegExp][] = [
    [
      'no image',
      async () => ({}),
      {},
      /^ApiError: publishWithResponse: Image \(msg\.payload\) is missing \(expanded\)$/,
    ],
    [
      'a GIF',
      async () => ({ payload: Buffer.from('GIF89a-not-a-face') }),
      {},
      // The client's check, named as the user set it: the dialog's label, its source, the API field.
      /: Image \(msg\.payload\) is a GIF image; only JPEG and PNG are accepted \(expanded\)$/,
    ],
    [
      'an unknown time zone',
      async () => ({ payload: known, zone: 'Mars/Olympus' }),
      { ianaTimeZone: 'zone', ianaTimeZoneType: 'msg' },
      /Time zone \(msg\.zone\) "Mars\/Olympus" is not an IANA time zone .* \(ianaTimeZone\)$/,
    ],
    [
      'a detection time that is no date',
      async () => ({ payload: known, detectTime: 'yesterday-ish' }),
      {},
      /Detected at \(msg\.detectTime\) must be a time: .* \(detectTimeUtc\)$/,
    ],
    [
      'no detector name',
      async () => ({ payload: known }),
      { detectorName: '' },
      /Detector \(node setting\) is missing \(detectorName\)$/,
    ],
    [
      'a switch that is no boolean',
      async () => ({ payload: known, largest: 'maybe' }),
      { largestFaceOnly: 'largest', largestFaceOnlyType: 'msg' },
      /Largest face only \(msg\.largest\) must be true or false, but is a string \(largestFaceOnly\)$/,
    ],
  ];
  for (const [what, message, settings, expected] of badInputs) {
    it(`fails clearly on ${what}: Catch gets it, nothing is sent, nothing is requested`, async function () {
      await loadPublish(settings);
      const before = emu.counts.publishWithResponse ?? 0;
      const caught = nextError();
      send('publish', await message());
      const error = await caught;
      assert.match(error.message, expected);
      assertErrorCode(error, 'INVALID_INPUT');
      assert.equal(error.source.id, 'publish');
      assert.equal(emu.counts.publishWithResponse ?? 0, before);
      assert.deepEqual(statuses('publish').at(-1), { fill: 'red', shape: 'ring', text: 'invalid input' });
    });
  }

  it('reports a missing permission as such', async function () {
    await loadPublish({}, 'viewer');
    const caught = nextError();
    send('publish', { payload: known });
    const error = await caught;
    assertErrorCode(error, 'FORBIDDEN');
    assert.match(error.message, /HTTP 403/);
    assert.deepEqual(statuses('publish').at(-1), { fill: 'red', shape: 'ring', text: 'permission denied' });
  });
});
