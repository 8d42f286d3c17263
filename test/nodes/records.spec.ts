/** The nodes that manage records: people (every people endpoint, settings, profile) and tags. */
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
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

type Item = Record<string, unknown>;

describe('record nodes', function () {
  let emu: Emulator;
  let image: Buffer;
  let personId: string;

  before(async function () {
    emu = await emulator();
    const client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
    image = await face(140);
    personId = (await client.faceEnroll({ faceImage: image })).personId;
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

  /** Runs one operation of the node `id` (operation from msg) and gives msg.payload back. */
  async function run(operation: string, fields: Item = {}, id = 'node'): Promise<unknown> {
    return (await ask(id, { operation, personId, ...fields })).payload;
  }

  describe('identities-tags', function () {
    it('creates, lists, gets, updates and deletes a tag in the guide shape, the operation from msg.operation', async function () {
      await loadNodes([recordNode('identities-tags', 'msg')]);
      const created = (await run('createTag', { payload: 'Staff' })) as Item;
      assert.equal(created.tagName, 'Staff', 'a text payload is the tag name');
      assert.match(String(created.tagId), /^[0-9a-f-]{36}$/);
      // Pasted with spaces around it: sent as the period alone.
      const visitor = (await run('createTag', {
        payload: { tagName: 'Visitor', defaultExpirePeriod: ' 08:00:00 ' },
      })) as Item;
      assert.equal(visitor.defaultExpirePeriod, '08:00:00');

      const listed = (await run('listTags')) as Item[];
      assert.ok(listed.length >= 2);
      assert.deepEqual(statuses('node').at(-1), {
        fill: 'green',
        shape: 'dot',
        text: `list tags: ${listed.length}`,
      });
      const byName = (await run('listTags', { tagName: 'Staff' })) as Item[];
      assert.deepEqual(
        byName.map((tag) => tag.tagId),
        [created.tagId],
      );

      const updated = (await run('updateTag', {
        tagId: created.tagId,
        // A number of days becomes the guide's period.
        payload: { tagName: 'Staff', description: 'employees', disabled: false, defaultExpirePeriod: 30 },
      })) as Item;
      assert.equal(updated.defaultExpirePeriod, '30.00:00:00');
      const got = (await run('getTag', { tagId: created.tagId })) as Item;
      assert.deepEqual(
        [got.tagName, got.description, got.defaultExpirePeriod],
        ['Staff', 'employees', '30.00:00:00'],
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
        /^ApiError: getTag: msg\.tagId is missing$/,
      );
    });

    const oldTags: [string, unknown, RegExp][] = [
      [
        'a tag with name',
        { name: 'VIP' },
        /^ApiError: createTag: msg\.payload has name, which is not a field of \{tagName, description\?, disabled\?, defaultExpirePeriod\?\} .*: use tagName\. Nothing was sent\.$/,
      ],
      [
        'a tag with defaultExpiryDays',
        { tagName: 'VIP', defaultExpiryDays: 3 },
        /msg\.payload has defaultExpiryDays, .*: use defaultExpirePeriod\. Nothing was sent\./,
      ],
      [
        'a period that is not one',
        { tagName: 'VIP', defaultExpirePeriod: 'a week' },
        /msg\.payload\.defaultExpirePeriod must be a period such as 30\.00:00:00 .*, but is "a week"$/,
      ],
      [
        'a number of days too small for a second, which would read as never',
        { tagName: 'VIP', defaultExpirePeriod: 1e-9 },
        /msg\.payload\.defaultExpirePeriod must be a period such as 30\.00:00:00 .*, but is a number$/,
      ],
      [
        'more days than a period holds',
        { tagName: 'VIP', defaultExpirePeriod: 2e300 },
        /msg\.payload\.defaultExpirePeriod must be a period such as 30\.00:00:00 .*, but is a number$/,
      ],
      [
        'a list',
        ['VIP'],
        /msg\.payload must be an object \{tagName, .*\} or the tagName as text, but is an array of 1 items$/,
      ],
    ];
    it('refuses an update given by the name alone, which could reset what it leaves out', async function () {
      await loadNodes([recordNode('identities-tags', 'updateTag')]);
      const before = emu.counts.updateTag ?? 0;
      await assertCaught(
        ask('node', { tagId: '4c5d6e7f-8091-2345-6789-abcdef012345', payload: 'Visitors' }),
        'INVALID_INPUT',
        /^ApiError: updateTag: msg\.payload must be an object \{tagName, .*\}, but is a string$/,
      );
      assert.equal(emu.counts.updateTag ?? 0, before);
    });

    for (const [what, payload, expected] of oldTags) {
      it(`refuses ${what} before sending anything`, async function () {
        await loadNodes([recordNode('identities-tags', 'createTag')]);
        const before = emu.counts.createTag ?? 0;
        await assertCaught(ask('node', { payload }), 'INVALID_INPUT', expected);
        assert.equal(emu.counts.createTag ?? 0, before);
      });
    }
  });

  describe('identities-people', function () {
    it('reads and writes aliases, notes, addresses and entity fields in the guide shapes', async function () {
      await loadNodes([recordNode('identities-people', 'msg')]);
      assert.equal(((await run('getPerson')) as Item).personId, personId);

      const alias = (await run('upsertAlias', {
        payload: { firstName: 'Ada', lastName: 'Lovelace' },
      })) as Item;
      assert.match(String(alias.personAliasId), /^[0-9a-f-]{36}$/);
      const renamed = (await run('upsertAlias', {
        payload: {
          personAliasId: alias.personAliasId,
          firstName: 'Ada',
          lastName: 'King',
          title: 'Countess',
        },
      })) as Item;
      assert.equal(renamed.lastName, 'King');
      assert.deepEqual(
        ((await run('getAliases')) as Item[]).map((a) => a.lastName),
        ['King'],
        'with personAliasId the alias is updated, not added',
      );
      await run('deleteAlias', { aliasId: alias.personAliasId });
      assert.equal(((await run('getAliases')) as Item[]).length, 0);

      const note = (await run('upsertNote', {
        payload: { summary: 'VIP', body: 'Prefers the side door', author: 'host@venue.example' },
      })) as Item;
      assert.equal(note.body, 'Prefers the side door');
      await run('upsertNote', {
        payload: { noteId: note.noteId, summary: 'VIP', body: 'Side door, always' },
      });
      assert.deepEqual(
        ((await run('getNotes')) as Item[]).map((n) => n.body),
        ['Side door, always'],
      );
      await run('deleteNote', { noteId: note.noteId });
      assert.equal(((await run('getNotes')) as Item[]).length, 0);

      const address = (await run('upsertAddress', {
        payload: {
          street: '1 Rue de la Paix',
          city: 'Lyon',
          state: 'ARA',
          postalCode: '69001',
          country: 'FR',
        },
      })) as Item;
      assert.equal(address.street, '1 Rue de la Paix');
      await run('upsertAddress', {
        payload: { ...address, street2: 'Bât. B' },
      });
      const addresses = ((await run('getPerson')) as { addresses: Item[] }).addresses;
      assert.deepEqual(
        addresses.map((a) => a.street2),
        ['Bât. B'],
      );

      const field = (await run('upsertEntityField', {
        payload: { name: 'LoyaltyTier', stringValue: 'Gold' },
      })) as Item;
      assert.match(String(field.entityFieldId), /^[0-9a-f-]{36}$/);
      await run('upsertEntityField', { payload: { name: 'Seat', stringValue: '12A' } });
      assert.deepEqual(
        ((await run('getEntityFields', { fieldName: 'LoyaltyTier' })) as Item[]).map((f) => f.stringValue),
        ['Gold'],
      );
      const ids = (people: unknown) => (people as Item[]).map((p) => p.personId);
      const gold = { entityFieldName: 'LoyaltyTier', entityFieldStringValue: 'Gold' };
      assert.ok(ids(await run('queryPeople', gold)).includes(personId));
      assert.ok(ids(await run('queryPeopleByEntityField', gold)).includes(personId));
      assert.ok(
        !ids(await run('queryPeople', { ...gold, entityFieldStringValue: 'Silver' })).includes(personId),
      );
      await run('deleteEntityField', { entityFieldId: field.entityFieldId });
      assert.deepEqual(
        ((await run('getEntityFields')) as Item[]).map((f) => f.name),
        ['Seat'],
      );
    });

    it('applies, finds by and removes person tags, by personTagId or by tagId', async function () {
      await loadNodes([
        recordNode('identities-people', 'msg'),
        { ...recordNode('identities-tags', 'createTag'), id: 'tags' },
      ]);
      const tag = (await ask('tags', { payload: 'VIP' })).payload as Item;
      const expires = new Date('2030-01-01T00:00:00Z');
      const applied = (await run('upsertPersonTag', { payload: { tagId: tag.tagId, expires } })) as Item;
      assert.equal(applied.tagId, tag.tagId);
      assert.equal(
        new Date(String(applied.expires)).getTime(),
        expires.getTime(),
        'a Date is sent as ISO time',
      );
      assert.equal(((await run('getPersonTags', { tagName: 'VIP' })) as Item[]).length, 1);
      assert.equal(((await run('getPersonTags', { tagName: 'Nobody' })) as Item[]).length, 0);
      const tagged = (await run('queryPeople', { tagId: tag.tagId })) as Item[];
      assert.deepEqual(
        tagged.map((p) => p.personId),
        [personId],
      );
      await run('deletePersonTag', { personTagId: applied.personTagId ?? applied.tagId });
      assert.equal(((await run('getPersonTags')) as Item[]).length, 0);

      await run('upsertPersonTag', { payload: String(tag.tagId) });
      // No item the guide shows has a personTagId: msg.tagId serves when it is absent.
      await run('deletePersonTag', { tagId: tag.tagId });
      assert.equal(((await run('getPersonTags')) as Item[]).length, 0);
    });

    it('reads photos and detections, with paging, a time window and the order', async function () {
      const client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
      const faceId = (await client.recognize({ croppedAligned: image, detectorName: 'Desk' }))?.faceId;
      assert.ok(faceId, 'the enrolled face is recognized');
      const times = ['2026-05-01T10:00:00Z', '2026-05-02T10:00:00Z', '2026-05-03T10:00:00Z'];
      const detectIds: string[] = [];
      for (const detectTimeUtc of times) {
        const published = await client.publishWithResponse({
          expanded: image,
          detectorName: 'Lobby',
          detectTimeUtc,
          allowDoubleDetection: true,
        });
        detectIds.push(published.detectedFaces[0]!.detectId);
      }
      client.close();

      await loadNodes([recordNode('identities-people', 'msg')]);
      const enrollmentPhoto = await ask('node', { operation: 'getEnrollmentPhoto', faceId });
      assert.ok(Buffer.isBuffer(enrollmentPhoto.payload));
      assert.equal(enrollmentPhoto.contentType, 'image/jpeg');
      const detectionPhoto = await ask('node', {
        operation: 'getDetectionPhoto',
        faceId,
        detectionId: detectIds[0],
      });
      assert.ok(Buffer.isBuffer(detectionPhoto.payload));

      const when = (list: unknown) => (list as Item[]).map((d) => d.dateTimeUtc);
      // The enrollment and the recognition above were detections too, today: the span leaves them out.
      const span = { epochStartMs: Date.parse(times[0]!), epochEndMs: Date.parse(times[2]!) };
      assert.deepEqual(when(await run('getDetectionsByPerson', span)), times);
      assert.deepEqual(
        when(
          await run('getDetectionsByPerson', {
            take: 2,
            dateAscending: false,
            epochStartMs: new Date(times[0]!),
            epochEndMs: times[2],
          }),
        ),
        [times[2], times[1]],
      );
      assert.deepEqual(when(await run('getDetectionsByFace', { ...span, faceId, skip: '1', take: 1 })), [
        times[1],
      ]);
      const [detection] = (await run('getDetectionsByFace', {
        ...span,
        faceId,
        // Milliseconds as text, as an HTTP query or an environment variable gives them.
        epochStartMs: String(Date.parse(times[2]!)),
      })) as Item[];
      assert.equal(detection!.detector, 'Lobby');
    });

    it('uploads a document, gives the id to download it by, and downloads it', async function () {
      await loadNodes([recordNode('identities-people', 'msg')]);
      const named = await ask('node', {
        operation: 'uploadFileDocument',
        personId,
        payload: Buffer.from('front of the badge'),
        documentName: 'Badge',
        documentId: 'badge-front',
        filename: '/data/scans/badge.txt',
        contentType: 'text/plain',
      });
      assert.deepEqual(named.payload, { publicId: 'badge-front' });
      assert.equal(named.documentId, 'badge-front');

      const unnamed = await ask('node', {
        operation: 'uploadFileDocument',
        personId,
        payload: 'the back',
        documentName: 'Badge (back)',
      });
      const { publicId } = unnamed.payload as { publicId: string };
      assert.match(publicId, /^[0-9a-f-]{36}$/, 'an id is made when msg.documentId is absent');
      assert.equal(unnamed.documentId, publicId);

      for (const [documentId, text] of [
        ['badge-front', 'front of the badge'],
        [publicId, 'the back'],
      ]) {
        const download = await ask('node', { operation: 'downloadFileDocument', personId, documentId });
        assert.equal((download.payload as Buffer).toString(), text);
      }
      assert.match(String(statuses('node').at(-1)?.text), /^download a document: [\d.]+ kB$/);
    });

    it('reaches the field settings and the profile, and runs a node stored without an operation', async function () {
      await loadNodes([
        recordNode('identities-people', 'msg'),
        { id: 'bare', type: 'identities-people', server: 'server', wires: [['out1']] },
      ]);
      const stringSetting = (await run('setStringFieldSetting', {
        fieldId: 'tier',
        payload: { name: 'LoyaltyTier', maxLength: 20 },
      })) as Item;
      assert.deepEqual([stringSetting.entityType, stringSetting.fieldType], ['Person', 'string']);
      const dateSetting = (await run('setDatetimeFieldSetting', {
        fieldId: 'since',
        payload: { name: 'MemberSince', dateOnly: true },
      })) as Item;
      assert.equal(dateSetting.fieldType, 'datetime');

      const profile = (await run('getUserProfile')) as Item;
      assert.equal(profile.token, undefined, 'the token never reaches a message');

      // The editor's default operation: get a person.
      assert.equal(((await run('', {}, 'bare')) as Item).personId, personId);
    });

    const badMessages: [string, NodeMessage, RegExp][] = [
      [
        'a note with text',
        { operation: 'upsertNote', payload: { text: 'Prefers the side door' } },
        /^ApiError: upsertNote: msg\.payload has text, which is not a field of \{noteId\?, summary, body, author\?, sharedId\?\} .*: use summary, body\. Nothing was sent\.$/,
      ],
      [
        'a note as text',
        { operation: 'upsertNote', payload: 'Prefers the side door' },
        /upsertNote: msg\.payload must be an object \{noteId\?, summary, body, author\?, sharedId\?\}, but is a string$/,
      ],
      [
        'an alias with aliasId',
        { operation: 'upsertAlias', payload: { aliasId: 'a1', firstName: 'Ada', lastName: 'Lovelace' } },
        /upsertAlias: msg\.payload has aliasId, .*: use personAliasId\. Nothing was sent\./,
      ],
      [
        'an address with line1',
        { operation: 'upsertAddress', payload: { line1: '1 Main St', city: 'Lyon' } },
        /upsertAddress: msg\.payload has line1, .*: use street\. Nothing was sent\./,
      ],
      [
        'a search by tag name',
        { operation: 'queryPeople', tagName: 'VIP' },
        /^ApiError: queryPeople: msg\.tagName is not read by this operation: set msg\.tagId instead\. Nothing was sent\.$/,
      ],
      [
        'a search by entityFieldValue',
        { operation: 'queryPeople', entityFieldName: 'LoyaltyTier', entityFieldValue: 'Gold' },
        /queryPeople: msg\.entityFieldValue is not read .*: set msg\.entityFieldStringValue instead/,
      ],
      [
        'an entity field deleted by name',
        { operation: 'deleteEntityField', fieldName: 'LoyaltyTier' },
        /deleteEntityField: msg\.fieldName is not read .*: set msg\.entityFieldId instead/,
      ],
      [
        'a path search without a value',
        { operation: 'queryPeopleByEntityField', entityFieldName: 'LoyaltyTier' },
        /^ApiError: queryPeopleByEntityField: msg\.entityFieldStringValue is missing \(fieldValue\)$/,
      ],
      [
        'an expiry that is no time',
        { operation: 'upsertPersonTag', payload: { tagId: 't1', expires: 'next week' } },
        /upsertPersonTag: msg\.payload\.expires must be a time/,
      ],
      [
        'a take that is no number',
        { operation: 'getDetectionsByPerson', take: 'many' },
        /getDetectionsByPerson: msg\.take must be a whole number, 1 or more, but is a string$/,
      ],
      [
        'a take of none',
        { operation: 'getDetectionsByPerson', take: 0 },
        /getDetectionsByPerson: msg\.take must be a whole number, 1 or more, but is a number$/,
      ],
      [
        'a negative skip',
        { operation: 'getDetectionsByFace', faceId: 'f1', skip: -1 },
        /msg\.skip must be a whole number, 0 or more, but is a number$/,
      ],
      [
        'an order that is no boolean',
        { operation: 'getDetectionsByPerson', dateAscending: 'newest' },
        /msg\.dateAscending must be true or false, but is a string$/,
      ],
      [
        'a window start that is no time',
        { operation: 'getDetectionsByPerson', epochStartMs: 'yesterday' },
        /msg\.epochStartMs must be a time/,
      ],
      [
        'no person id',
        { operation: 'getAliases', personId: undefined },
        /^ApiError: getAliases: msg\.personId is missing$/,
      ],
      [
        'a body that is not an object',
        { operation: 'upsertAlias', payload: 42 },
        /upsertAlias: msg\.payload must be an object \{personAliasId\?, firstName, lastName, middleName\?, title\?\}, but is a number$/,
      ],
      [
        'no file to upload',
        { operation: 'uploadFileDocument', documentName: 'x' },
        /^ApiError: uploadFileDocument: msg\.payload is missing \(file\)$/,
      ],
      [
        'a file that is no file',
        { operation: 'uploadFileDocument', documentName: 'x', payload: { pages: 2 } },
        // The client's check, named by the msg property it came from.
        /^ApiError: uploadFileDocument: msg\.payload must be a Buffer or a string \(file\)$/,
      ],
      ['no operation', { operation: undefined }, /unknown operation "undefined"/],
    ];
    for (const [what, fields, expected] of badMessages) {
      it(`fails clearly on ${what}, before sending anything`, async function () {
        await loadNodes([recordNode('identities-people', 'msg')]);
        // Every request but the login, which the deploy starts.
        const requests = () =>
          Object.entries(emu.counts)
            .filter(([operation]) => operation !== 'authenticate')
            .reduce((sum, [, count]) => sum + count, 0);
        const before = requests();
        await assertCaught(ask('node', { personId, ...fields }), 'INVALID_INPUT', expected);
        assert.deepEqual(statuses('node').at(-1), { fill: 'red', shape: 'ring', text: 'invalid input' });
        assert.equal(requests(), before, 'nothing was sent');
      });
    }

    it('reports what the server refuses: a person that does not exist, a write without permission', async function () {
      await loadNodes([recordNode('identities-people', 'msg')], 'viewer');
      await assertCaught(
        ask('node', { operation: 'getPerson', personId: '00000000-0000-4000-8000-000000000000' }),
        'NOT_FOUND',
      );
      const caught = nextError();
      send('node', { operation: 'upsertNote', personId, payload: { summary: 'x', body: 'not allowed' } });
      const error = await caught;
      assertErrorCode(error, 'FORBIDDEN');
      assert.match(error.message, /upsertNote: HTTP 403/);
      assert.deepEqual(statuses('node').at(-1), { fill: 'red', shape: 'ring', text: 'permission denied' });
    });
  });
});
