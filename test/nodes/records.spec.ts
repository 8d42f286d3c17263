/** The nodes that manage records: people (every people endpoint, settings, profile) and tags. */
import assert from 'node:assert/strict';
import { IdentitiesClient } from '../../client/client';
import type { Emulator } from '../../emulator/server';
import {
  ask,
  emulator,
  face,
  helper,
  helperNodes,
  load,
  send,
  nextError,
  serverNode,
  statuses,
  type FlowNode,
  assertErrorCode,
  assertCaught,
} from './harness';

function recordNode(type: string, operation: string): FlowNode {
  return { id: 'node', type, server: 'server', operation, wires: [['out1']] };
}

describe('record nodes', function () {
  let emu: Emulator;
  let personId: string;
  let faceId: string;
  let detectId: string;

  before(async function () {
    emu = await emulator();
    const client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
    const image = await face(140);
    personId = (await client.faceEnroll({ faceImage: image })).personId;
    const published = await client.publishWithResponse({ expanded: image, detectorName: 'Lobby' });
    faceId = published.detectedFaces[0]!.faceId;
    detectId = published.detectedFaces[0]!.detectId;
    client.close();
  });

  after(async function () {
    await emu.close();
  });

  afterEach(async function () {
    await helper.unload();
  });

  async function loadNodes(nodes: FlowNode[], user = 'admin') {
    await load([serverNode(emu), ...nodes, ...helperNodes('out1')], {
      server: { username: user, password: user },
    });
  }

  describe('identities-tags', function () {
    it('creates, lists, gets, updates and deletes a tag, the operation from msg.operation', async function () {
      await loadNodes([recordNode('identities-tags', 'msg')]);
      const created = (await ask('node', { operation: 'createTag', payload: 'Staff' })).payload as {
        tagId: string;
        name: string;
      };
      assert.equal(created.name, 'Staff');
      const listed = (await ask('node', { operation: 'listTags' })).payload as { tagId: string }[];
      assert.ok(listed.some((tag) => tag.tagId === created.tagId));
      assert.deepEqual(statuses('node').at(-1), {
        fill: 'green',
        shape: 'dot',
        text: `list tags: ${listed.length}`,
      });
      const updated = await ask('node', {
        operation: 'updateTag',
        tagId: created.tagId,
        payload: { name: 'Staff', description: 'employees', defaultExpiryDays: 30 },
      });
      assert.equal((updated.payload as { defaultExpiryDays: number }).defaultExpiryDays, 30);
      assert.equal(
        ((await ask('node', { operation: 'getTag', tagId: created.tagId })).payload as { name: string }).name,
        'Staff',
      );
      const deleted = await ask('node', { operation: 'deleteTag', tagId: created.tagId, topic: 'kept' });
      assert.equal(deleted.topic, 'kept', 'a delete passes the message on');
      await assertCaught(ask('node', { operation: 'getTag', tagId: created.tagId }), 'NOT_FOUND');
    });

    it('runs the operation chosen in the dialog, and names a missing tag id', async function () {
      await loadNodes([recordNode('identities-tags', 'getTag')]);
      await assertCaught(
        ask('node', { operation: 'deleteTag' }),
        'INVALID_INPUT',
        /getTag: tagId is missing \(expected in msg\.tagId\)/,
      );
    });
  });

  describe('identities-people', function () {
    it('reaches every people endpoint, the settings and the profile', async function () {
      await loadNodes(
        [recordNode('identities-people', 'msg'), recordNode('identities-tags', 'createTag')].map(
          (node, index) => ({ ...node, id: index === 0 ? 'node' : 'tags' }),
        ),
      );
      const run = async (operation: string, fields: Record<string, unknown> = {}) =>
        (await ask('node', { operation, personId, ...fields })).payload;

      const person = (await run('getPerson')) as { personId: string; faces: { faceId: string }[] };
      assert.equal(person.personId, personId);

      const alias = (await run('upsertAlias', { payload: { firstName: 'Ada', lastName: 'Lovelace' } })) as {
        aliasId: string;
      };
      assert.equal(((await run('getAliases')) as unknown[]).length, 1);
      await run('deleteAlias', { aliasId: alias.aliasId });
      assert.equal(((await run('getAliases')) as unknown[]).length, 0);

      const tag = (await ask('tags', { payload: 'VIP' })).payload as { tagId: string };
      await run('upsertPersonTag', { payload: tag.tagId });
      assert.equal(((await run('getPersonTags')) as unknown[]).length, 1);
      const tagged = (await run('queryPeople', { tagId: tag.tagId })) as { personId: string }[];
      assert.deepEqual(
        tagged.map((p) => p.personId),
        [personId],
      );
      await run('deletePersonTag', { tagId: tag.tagId });
      assert.equal(((await run('getPersonTags')) as unknown[]).length, 0);

      const note = (await run('upsertNote', { payload: 'Prefers the side door' })) as {
        noteId: string;
        text: string;
      };
      assert.equal(note.text, 'Prefers the side door');
      assert.equal(((await run('getNotes')) as unknown[]).length, 1);
      await run('deleteNote', { noteId: note.noteId });

      const address = (await run('upsertAddress', { payload: { addressType: 'Home', city: 'Lyon' } })) as {
        city: string;
      };
      assert.equal(address.city, 'Lyon');

      await run('upsertEntityField', { payload: { name: 'LoyaltyTier', stringValue: 'Gold' } });
      assert.deepEqual(
        ((await run('getEntityFields')) as { name: string }[]).map((f) => f.name),
        ['LoyaltyTier'],
      );
      const byField = (await run('queryPeople', {
        entityFieldName: 'LoyaltyTier',
        entityFieldValue: 'Gold',
        take: 10,
      })) as { personId: string }[];
      assert.ok(byField.some((p) => p.personId === personId));
      await run('deleteEntityField', { fieldName: 'LoyaltyTier' });

      const stringSetting = (await run('setStringFieldSetting', {
        fieldId: 'tier',
        payload: { name: 'LoyaltyTier', maxLength: 20 },
      })) as { entityType: string; fieldType: string };
      assert.deepEqual([stringSetting.entityType, stringSetting.fieldType], ['Person', 'string']);
      const dateSetting = (await run('setDatetimeFieldSetting', {
        fieldId: 'since',
        payload: { name: 'MemberSince', dateOnly: true },
      })) as { fieldType: string };
      assert.equal(dateSetting.fieldType, 'datetime');

      const enrollmentPhoto = await ask('node', {
        operation: 'getEnrollmentPhoto',
        faceId: person.faces[0]!.faceId,
      });
      assert.ok(Buffer.isBuffer(enrollmentPhoto.payload));
      assert.equal(enrollmentPhoto.contentType, 'image/jpeg');
      const detectionPhoto = await ask('node', {
        operation: 'getDetectionPhoto',
        faceId,
        detectionId: detectId,
      });
      assert.ok(Buffer.isBuffer(detectionPhoto.payload));
      assert.ok(((await run('getDetectionsByFace', { faceId })) as unknown[]).length >= 1);
      assert.ok(((await run('getDetectionsByPerson')) as unknown[]).length >= 1);

      const upload = await ask('node', {
        operation: 'uploadFileDocument',
        personId,
        payload: Buffer.from('front of the badge'),
        documentName: 'Badge',
        documentId: 'badge-front',
        filename: '/data/scans/badge.txt',
        contentType: 'text/plain',
      });
      assert.equal(upload.documentId, 'badge-front');
      const download = await ask('node', {
        operation: 'downloadFileDocument',
        personId,
        documentId: 'badge-front',
      });
      assert.equal((download.payload as Buffer).toString(), 'front of the badge');
      assert.equal(download.filename, 'badge.txt');
      assert.match(String(statuses('node').at(-1)?.text), /^download a document: [\d.]+ kB$/);

      const profile = (await run('getUserProfile')) as Record<string, unknown>;
      assert.equal(profile.userName, 'admin');
      assert.equal(profile.token, undefined, 'the token never reaches a message');
    });

    const badMessages: [string, Record<string, unknown>, RegExp][] = [
      [
        'no person id',
        { operation: 'getAliases' },
        /getAliases: personId is missing \(expected in msg\.personId\)/,
      ],
      [
        'a body that is not an object',
        { operation: 'upsertAlias', personId: 'p', payload: 42 },
        /upsertAlias: msg\.payload must be an object with the request's fields, but is a number/,
      ],
      [
        'a take that is no number',
        { operation: 'queryPeople', take: 'many' },
        /msg\.take must be a whole number/,
      ],
      [
        'no file to upload',
        { operation: 'uploadFileDocument', personId: 'p', documentName: 'x' },
        /file is missing/,
      ],
      ['no operation', {}, /unknown operation "undefined"/],
    ];
    for (const [what, msg, expected] of badMessages) {
      it(`fails clearly on ${what}`, async function () {
        await loadNodes([recordNode('identities-people', 'msg')]);
        await assertCaught(ask('node', msg), 'INVALID_INPUT', expected);
        assert.deepEqual(statuses('node').at(-1), { fill: 'red', shape: 'ring', text: 'invalid input' });
      });
    }

    it('reports what the server refuses: a person that does not exist, a write without permission', async function () {
      await loadNodes([recordNode('identities-people', 'msg')], 'viewer');
      await assertCaught(
        ask('node', { operation: 'getPerson', personId: '00000000-0000-4000-8000-000000000000' }),
        'NOT_FOUND',
      );
      const caught = nextError();
      send('node', { operation: 'upsertNote', personId, payload: 'not allowed' });
      const error = await caught;
      assertErrorCode(error, 'FORBIDDEN');
      assert.match(error.message, /upsertNote: HTTP 403/);
      assert.deepEqual(statuses('node').at(-1), { fill: 'red', shape: 'ring', text: 'permission denied' });
    });
  });
});
