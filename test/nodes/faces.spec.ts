/** The nodes that take images and answer about faces: recognize, lookup, detect, compare, enroll. */
import assert from 'node:assert/strict';
import type { Emulator } from '../../emulator/server';
import {
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

describe('face nodes', function () {
  let emu: Emulator;
  let enrolled: Buffer;
  let stranger: Buffer;

  before(async function () {
    emu = await emulator();
    enrolled = await face(20);
    stranger = await face(220);
  });

  after(async function () {
    await emu.close();
  });

  afterEach(async function () {
    await helper.unload();
  });

  async function loadNode(settings: FlowNode, user = 'admin') {
    await load([serverNode(emu), { server: 'server', ...settings }, ...helperNodes('out1', 'out2')], {
      server: { username: user, password: user },
    });
  }

  describe('identities-enroll', function () {
    // The rest are the editor's defaults: the image from msg.payload, msg.personId, msg.photoReferenceId.
    const enrollNode = (settings: Record<string, unknown> = {}): FlowNode => ({
      id: 'node',
      type: 'identities-enroll',
      operation: 'faceEnroll',
      wires: [['out1']],
      ...settings,
    });

    it('enrolls a new person, adds a photo to msg.personId, and checks an image reference', async function () {
      await loadNode(enrollNode());
      const first = nextMessage('out1');
      send('node', { payload: enrolled, photoReferenceId: 'badge-42' });
      const created = await first;
      const personId = (created.payload as { personId: string }).personId;
      assert.match(personId, /^[0-9a-f-]{36}$/);
      assert.equal(created.personId, personId, 'ready for a people node');
      assert.equal(created.image, enrolled);
      assert.deepEqual(statuses('node').at(-1), { fill: 'green', shape: 'dot', text: 'enroll a face' });

      const second = nextMessage('out1');
      send('node', { payload: await face(21), personId });
      assert.equal(((await second).payload as { personId: string }).personId, personId);
      await helper.unload();

      await loadNode(enrollNode({ operation: 'msg' }));
      const checked = nextMessage('out1');
      send('node', { operation: 'checkImageReference', photoReferenceId: 'badge-42' });
      assert.equal(((await checked).payload as { exists: boolean }).exists, true);
    });

    it('fails clearly for a person that does not exist, and for an unknown msg.operation', async function () {
      await loadNode(enrollNode({ operation: 'msg' }));
      const notFound = nextError();
      send('node', {
        operation: 'faceEnroll',
        payload: stranger,
        personId: '00000000-0000-4000-8000-000000000000',
      });
      const error = await notFound;
      assertErrorCode(error, 'NOT_FOUND');
      assert.match(error.message, /^ApiError: faceEnroll: HTTP 404: person 0{8}-.* not found/);
      assert.deepEqual(statuses('node').at(-1), { fill: 'red', shape: 'ring', text: 'not found' });

      const unknown = nextError();
      send('node', { operation: 'deletePerson', payload: stranger });
      assert.match(
        (await unknown).message,
        /unknown operation "deletePerson": expected one of faceEnroll, checkImageReference/,
      );
    });
  });

  for (const [index, type] of ['identities-recognize', 'identities-lookup'].entries()) {
    describe(type, function () {
      // The editor's defaults for the rest: the face from msg.payload, the embeddings from msg.embeddings.
      const matchNode = (settings: Record<string, unknown> = {}): FlowNode => ({
        id: 'node',
        type,
        ...(type === 'identities-recognize' ? { detectorName: 'Desk' } : {}),
        wires: [['out1'], ['out2']],
        ...settings,
      });

      it('sends the matched person to output 1 and "no face or no match" to output 2, not as an error', async function () {
        const known = await face(100 + index);
        await loadNode(enrollNodeFor());
        const enrolledMsg = nextMessage('out1');
        send('enroll', { payload: known });
        const personId = ((await enrolledMsg).payload as { personId: string }).personId;
        await helper.unload();

        await loadNode(matchNode(), 'edge');
        const match = nextMessage('out1');
        send('node', { payload: known });
        const matched = await match;
        assert.equal((matched.payload as { personId: string }).personId, personId);
        assert.equal(matched.personId, personId);
        assert.deepEqual(statuses('node').at(-1), { fill: 'green', shape: 'dot', text: personId });

        for (const image of [stranger, await noFace()]) {
          const none = nextMessage('out2');
          send('node', { payload: image });
          const msg = await none;
          assert.equal(msg.payload, null);
          assert.equal(msg.image, image);
        }
        assert.deepEqual(statuses('node').at(-1), { fill: 'green', shape: 'dot', text: 'no match' });
      });

      it('takes the face from another property and rejects embeddings that are not numbers', async function () {
        await loadNode(matchNode({ image: 'camera.face' }), 'edge');
        const none = nextMessage('out2');
        send('node', { camera: { face: stranger } });
        await none;

        const caught = nextError();
        send('node', { camera: { face: stranger }, embeddings: ['a', 'b'] });
        const error = await caught;
        assertErrorCode(error, 'INVALID_INPUT');
        assert.match(
          error.message,
          /Embeddings \(msg\.embeddings\) must be an array of numbers( or a Buffer of float32 values)? \(embeddings\)$/,
        );

        const missing = nextError();
        send('node', { payload: stranger });
        assert.match((await missing).message, /Face \(msg\.camera\.face\) is missing \(croppedAligned\)$/);
      });

      function enrollNodeFor(): FlowNode {
        return {
          id: 'enroll',
          type: 'identities-enroll',
          operation: 'faceEnroll',
          image: 'payload',
          imageType: 'msg',
          wires: [['out1']],
        };
      }
    });
  }

  describe('identities-recognize, where and when', function () {
    const recognizeNode = (settings: Record<string, unknown>): FlowNode => ({
      id: 'node',
      type: 'identities-recognize',
      wires: [['out1'], ['out2']],
      ...settings,
    });

    it('sends the detector, time zone and time as publish does, the detector from msg when told to', async function () {
      // Stored without most settings: the image from msg.payload and the time from msg.detectTime are the defaults.
      await loadNode(
        recognizeNode({
          detectorName: 'camera',
          detectorNameType: 'msg',
          ianaTimeZone: 'Europe/Paris',
          ianaTimeZoneType: 'str',
        }),
        'edge',
      );
      const none = nextMessage('out2');
      send('node', { payload: stranger, camera: 'Desk', detectTime: new Date('2026-03-04T05:06:07Z') });
      assert.equal((await none).payload, null);
    });

    const bad: [string, Record<string, unknown>, Record<string, unknown>, RegExp][] = [
      [
        'no detector name',
        {},
        {},
        /^ApiError: recognize: Detector \(node setting\) is missing \(detectorName\)$/,
      ],
      [
        'a detector name that is no text',
        { detectorName: 'camera', detectorNameType: 'msg' },
        { camera: { id: 7 } },
        /Detector \(msg\.camera\) must be text, but is an object \(detectorName\)$/,
      ],
      [
        'an unknown time zone',
        { detectorName: 'Desk', ianaTimeZone: 'zone', ianaTimeZoneType: 'msg' },
        { zone: 'Mars/Olympus' },
        /Time zone \(msg\.zone\) "Mars\/Olympus" is not an IANA time zone .* \(ianaTimeZone\)$/,
      ],
      [
        'a time that is no time',
        { detectorName: 'Desk' },
        { detectTime: 'soon' },
        /Detected at \(msg\.detectTime\) must be a time: .* \(detectTimeUtc\)$/,
      ],
    ];
    for (const [what, settings, fields, expected] of bad) {
      it(`refuses ${what} before sending anything`, async function () {
        await loadNode(recognizeNode(settings), 'edge');
        const before = emu.counts.recognize ?? 0;
        const caught = nextError();
        send('node', { payload: stranger, ...fields });
        const error = await caught;
        assertErrorCode(error, 'INVALID_INPUT');
        assert.match(error.message, expected);
        assert.equal(emu.counts.recognize ?? 0, before);
      });
    }
  });

  describe('identities-detect', function () {
    const detectNode: FlowNode = {
      id: 'node',
      type: 'identities-detect',
      image: 'payload',
      imageType: 'msg',
      wires: [['out1'], ['out2']],
    };

    it('sends the faces with boxes to output 1 and images without a face to output 2', async function () {
      await loadNode(detectNode);
      const found = nextMessage('out1');
      send('node', { payload: `data:image/jpeg;base64,${stranger.toString('base64')}` });
      const msg = await found;
      assert.equal((msg.payload as { detections: unknown[] }).detections.length, 1);
      assert.deepEqual(msg.annotations, [{ type: 'rect', bbox: [0, 0, 64, 64], label: 'unknown' }]);
      assert.deepEqual(statuses('node').at(-1), { fill: 'green', shape: 'dot', text: '1 face(s)' });

      const none = nextMessage('out2');
      send('node', { payload: await noFace() });
      assert.deepEqual((await none).payload, { detections: [] });
    });

    it('names what it got when the payload is not an image', async function () {
      await loadNode(detectNode);
      const caught = nextError();
      send('node', { payload: { not: 'an image' } });
      const error = await caught;
      assert.match(
        error.message,
        /faceDetect: Image \(msg\.payload\) expected an image as a Buffer, base64 string or data URL, got an object with keys not \(image\)$/,
      );
      assert.deepEqual(statuses('node').at(-1), { fill: 'red', shape: 'ring', text: 'invalid input' });
    });
  });

  describe('identities-compare', function () {
    const compareNode: FlowNode = {
      id: 'node',
      type: 'identities-compare',
      image1: 'payload',
      image1Type: 'msg',
      image2: 'reference',
      image2Type: 'flow',
      wires: [['out1'], ['out2']],
    };

    it('sends a match to output 1 and a mismatch to output 2, image 2 from flow context', async function () {
      await loadNode(compareNode);
      helper.getNode('node')?.context().flow.set('reference', enrolled);
      const same = nextMessage('out1');
      send('node', { payload: enrolled });
      assert.equal(((await same).payload as { match: boolean }).match, true);
      assert.match(String(statuses('node').at(-1)?.text), /^match \(\d+%\)$/);

      const different = nextMessage('out2');
      send('node', { payload: stranger });
      assert.equal(((await different).payload as { match: boolean }).match, false);
    });

    it('says which image is missing', async function () {
      await loadNode(compareNode);
      const caught = nextError();
      send('node', { payload: enrolled });
      assert.match((await caught).message, /faceCompare: Image 2 \(flow\.reference\) is missing \(image2\)$/);
    });
  });
});
