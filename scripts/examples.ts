/**
 * Regenerates examples/*.json: starts Node-RED with this package, and for each example imports a
 * skeleton (the nodes, their wiring and the settings that differ from the defaults) into the real
 * editor in chromium, lets the editor fill in every default, runs each flow node's edit dialog
 * (Done), and writes what the editor's export gives for the tab.
 *
 *   npx tsx scripts/examples.ts            # rewrites only the files whose content changed
 *   npx tsx scripts/examples.ts --check    # exits 1 if any file would change (for CI)
 *
 * Needs `npm run build` first (Node-RED loads dist/). Ids are derived from the example and the
 * node's key, so a run with no change to the skeletons, the nodes or Node-RED writes nothing.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import prettier from 'prettier';
import {
  closeEditDialog,
  type EditorGlobals,
  exportTab,
  importNodes,
  openEditDialog,
  openEditor,
  removeNodes,
  type FlowJson,
} from './editor';
import {
  FILE_IN_SETTINGS,
  freePort,
  NODE_TYPES,
  OFFLINE_EDITOR_SETTINGS,
  prepareUserDir,
  ROOT,
  spawnNodeRed,
  stopProcess,
  waitForNodeRed,
  writeFlows,
} from './runtime';

export const EXAMPLES_DIR = path.join(ROOT, 'examples');

/** One node of a skeleton: `key` names it within the example, `wires` name other keys. */
interface SkeletonNode {
  key: string;
  type: string;
  x?: number;
  y?: number;
  wires?: string[][];
  [setting: string]: unknown;
}

interface Example {
  /** The file name without .json: the label of the editor's Import > Examples menu. */
  title: string;
  nodes: SkeletonNode[];
}

/** Every example shares one config node id, so importing a second example reuses the server already set up. */
const SERVER_ID = id('identities-config', 'server');

/** A placeholder the user replaces: examples cannot know the user's server. */
const SERVER: SkeletonNode = {
  key: 'server',
  type: 'identities-config',
  name: 'eConnect Identities (set URL, user, password)',
  baseUrl: 'https://customername.econnectcloud.com/identities',
};

function id(example: string, key: string): string {
  return createHash('sha256').update(`${example}\n${key}`).digest('hex').slice(0, 16);
}

const FILE_NOTE =
  "The photos come from files: double-click each **file in** node and set the path of a JPEG or PNG on the machine that runs Node-RED (a camera snapshot, a photo). To take the picture from a camera instead, replace the file node with an **http request** node to the camera's snapshot URL with *Return: a binary buffer*.";
const SERVER_NOTE =
  'Before deploying, open the **eConnect Identities** config node (the server field of any identities node) and set the server URL, user name and password; for an on-premise server with a self-signed certificate, add a TLS configuration with its CA certificate.';

function comment(name: string, info: string, x = 330, y = 40): SkeletonNode {
  return { key: 'comment', type: 'comment', name, info: `${info}\n\n${FILE_NOTE}\n\n${SERVER_NOTE}`, x, y };
}

function inject(
  key: string,
  name: string,
  x: number,
  y: number,
  wires: string[],
  props: object[] = [],
): SkeletonNode {
  return { key, type: 'inject', name, props, repeat: '', once: false, x, y, wires: [wires] };
}

function fileIn(
  key: string,
  name: string,
  filename: string,
  x: number,
  y: number,
  wires: string[],
): SkeletonNode {
  return { key, type: 'file in', name, filename, ...FILE_IN_SETTINGS, x, y, wires: [wires] };
}

function debug(key: string, name: string, x: number, y: number, complete = 'payload'): SkeletonNode {
  return {
    key,
    type: 'debug',
    name,
    active: true,
    tosidebar: true,
    console: false,
    tostatus: false,
    complete,
    targetType: complete === 'true' ? 'full' : 'msg',
    x,
    y,
  };
}

function change(
  key: string,
  name: string,
  rules: object[],
  x: number,
  y: number,
  wires: string[],
): SkeletonNode {
  return { key, type: 'change', name, rules, x, y, wires: [wires] };
}

function set(p: string, to: string, tot: string): object {
  return { t: 'set', p, pt: 'msg', to, tot };
}

function catchAll(x: number, y: number): SkeletonNode[] {
  return [
    {
      key: 'catch',
      type: 'catch',
      name: 'identities errors',
      scope: null,
      uncaught: false,
      x,
      y,
      wires: [['errors']],
    },
    debug('errors', 'error', x + 200, y, 'error'),
  ];
}

const NAMES =
  '{{#payload.person.aliases}}{{title}} {{firstName}} {{lastName}}{{/payload.person.aliases}}{{^payload.person.aliases}}person {{payload.person.personId}}{{/payload.person.aliases}}';

function template(
  key: string,
  name: string,
  text: string,
  x: number,
  y: number,
  wires: string[],
): SkeletonNode {
  return {
    key,
    type: 'template',
    name,
    field: 'payload',
    fieldType: 'msg',
    format: 'handlebars',
    syntax: 'mustache',
    template: text,
    output: 'str',
    x,
    y,
    wires: [wires],
  };
}

export const EXAMPLES: Example[] = [
  {
    title: '01 Door camera - publish and act on VIP',
    nodes: [
      comment(
        'Door camera: publish each snapshot, greet VIPs, alert on the watch list',
        "Every face in the snapshot goes to **publishWithResponse** (one message per face, three outputs: matched, unknown, no face). A matched person's tags decide what happens: **VIP** gets a greeting, **Watch list** an alert, anyone else is just logged. Replace the debug nodes with your notification (e-mail, Telegram, a door relay).",
      ),
      inject('snapshot', 'camera snapshot', 140, 100, ['file']),
      fileIn('file', 'snapshot file (set the path)', '/path/to/door-snapshot.jpg', 350, 100, ['publish']),
      {
        key: 'publish',
        type: 'identities-publish',
        name: 'front door',
        server: 'server',
        detectorName: 'FrontDoorCam',
        split: 'each',
        separateOutputs: true,
        outputs: 3,
        includePerson: 'true',
        includeNames: 'true',
        includeTags: 'true',
        x: 560,
        y: 100,
        wires: [['tag'], ['unknown'], ['noFace']],
      },
      {
        key: 'tag',
        type: 'switch',
        name: 'which tag?',
        property: 'payload.person.personTags',
        propertyType: 'msg',
        rules: [
          { t: 'jsonata_exp', v: "'VIP' in payload.person.personTags.tag.name", vt: 'jsonata' },
          { t: 'jsonata_exp', v: "'Watch list' in payload.person.personTags.tag.name", vt: 'jsonata' },
          { t: 'else' },
        ],
        checkall: 'false',
        repair: false,
        outputs: 3,
        x: 760,
        y: 60,
        wires: [['vip'], ['watch'], ['known']],
      },
      template('vip', 'VIP greeting', `VIP at the front door: ${NAMES}`, 960, 40, ['notifyVip']),
      template('watch', 'watch list alert', `Watch list: ${NAMES} is at the front door`, 960, 80, [
        'notifyWatch',
      ]),
      template('known', 'known person', `At the front door: ${NAMES}`, 960, 120, ['log']),
      template(
        'unknown',
        'unknown visitor',
        'Unknown visitor at the front door (face {{payload.faceId}})',
        780,
        160,
        ['log'],
      ),
      debug('notifyVip', 'notify: VIP', 1170, 40),
      debug('notifyWatch', 'alert: watch list', 1180, 80),
      debug('log', 'door log', 1160, 140),
      debug('noFace', 'no face in the snapshot', 800, 200, 'true'),
      ...catchAll(140, 260),
      SERVER,
    ],
  },
  {
    title: '02 Enroll a person from a photo and check the reference',
    nodes: [
      comment(
        'Enroll a new person from a portrait, give them a name, then check the photo reference',
        "The first row enrolls the face in the portrait as a new person (msg.photoReferenceId is the photo's reference in your own system, e.g. a badge number) and names them with **people: add or update an alias**. The second row asks the server whether that reference is already enrolled, e.g. before enrolling again.",
      ),
      inject(
        'enroll',
        'enroll badge 0042',
        150,
        100,
        ['portrait'],
        [{ p: 'photoReferenceId', v: 'badge-0042', vt: 'str' }],
      ),
      fileIn('portrait', 'portrait (set the path)', '/path/to/portrait.jpg', 360, 100, ['faceEnroll']),
      {
        key: 'faceEnroll',
        type: 'identities-enroll',
        name: 'enroll a new person',
        server: 'server',
        operation: 'faceEnroll',
        x: 580,
        y: 100,
        wires: [['alias']],
      },
      change(
        'alias',
        'name: Jane Doe',
        [set('payload', '{"firstName":"Jane","lastName":"Doe","title":"Ms"}', 'json')],
        790,
        100,
        ['upsertAlias'],
      ),
      {
        key: 'upsertAlias',
        type: 'identities-people',
        name: '',
        server: 'server',
        operation: 'upsertAlias',
        x: 1000,
        y: 100,
        wires: [['enrolled']],
      },
      debug('enrolled', 'enrolled person', 1190, 100, 'true'),
      inject(
        'check',
        'is badge 0042 enrolled?',
        170,
        180,
        ['checkReference'],
        [{ p: 'photoReferenceId', v: 'badge-0042', vt: 'str' }],
      ),
      {
        key: 'checkReference',
        type: 'identities-enroll',
        name: 'check the reference',
        server: 'server',
        operation: 'checkImageReference',
        x: 420,
        y: 180,
        wires: [['exists']],
      },
      debug('exists', 'reference enrolled?', 640, 180),
      ...catchAll(150, 260),
      SERVER,
    ],
  },
  {
    title: '03 Compare two photos',
    nodes: [
      comment(
        'Compare two photos: the same person or not?',
        'The first photo is kept in msg.image2 while the second is read into msg.payload; **compare** sends both to faceCompare and routes the result: output 1 when they match, output 2 when they do not. Useful to check an ID photo against a selfie without enrolling anyone.',
      ),
      inject('start', 'compare', 130, 100, ['first']),
      fileIn('first', 'ID photo (set the path)', '/path/to/id-photo.jpg', 320, 100, ['keep']),
      change(
        'keep',
        'keep it in msg.image2',
        [{ t: 'move', p: 'payload', pt: 'msg', to: 'image2', tot: 'msg' }],
        540,
        100,
        ['second'],
      ),
      fileIn('second', 'selfie (set the path)', '/path/to/selfie.jpg', 750, 100, ['compare']),
      {
        key: 'compare',
        type: 'identities-compare',
        name: '',
        server: 'server',
        x: 930,
        y: 100,
        wires: [['same'], ['different']],
      },
      debug('same', 'same person', 1110, 80),
      debug('different', 'different people', 1120, 120),
      ...catchAll(130, 200),
      SERVER,
    ],
  },
  {
    title: '04 Keep a person - aliases, tags, notes and a document',
    nodes: [
      comment(
        "Keep a person's record: alias, a tag, a note and a document, then read it back",
        'Set msg.personId in the inject node to a person of yours (e.g. the id the enroll example printed). The chain adds an alias, creates the tag **Watch list** and puts it on the person, adds a note, uploads a document (any file: a PDF, a scan) and finally gets the whole person. Each **people** node does one operation, chosen in its dialog; ids travel in msg.personId, msg.tagId and so on.',
      ),
      inject(
        'start',
        'person (set msg.personId)',
        170,
        100,
        ['alias'],
        [{ p: 'personId', v: 'paste-a-person-id', vt: 'str' }],
      ),
      change(
        'alias',
        'alias',
        [set('payload', '{"firstName":"John","lastName":"Smith","title":"Mr"}', 'json')],
        380,
        100,
        ['upsertAlias'],
      ),
      {
        key: 'upsertAlias',
        type: 'identities-people',
        server: 'server',
        operation: 'upsertAlias',
        x: 580,
        y: 100,
        wires: [['tag']],
      },
      change(
        'tag',
        'tag: Watch list',
        [set('payload', '{"name":"Watch list","description":"Alert when seen at a door"}', 'json')],
        800,
        100,
        ['createTag'],
      ),
      {
        key: 'createTag',
        type: 'identities-tags',
        server: 'server',
        operation: 'createTag',
        x: 990,
        y: 100,
        wires: [['tagId']],
      },
      change('tagId', 'the new tag', [set('payload', '{"tagId": payload.tagId}', 'jsonata')], 190, 180, [
        'upsertPersonTag',
      ]),
      {
        key: 'upsertPersonTag',
        type: 'identities-people',
        server: 'server',
        operation: 'upsertPersonTag',
        x: 410,
        y: 180,
        wires: [['note']],
      },
      change('note', 'note', [set('payload', 'Seen at the loading dock after hours.', 'str')], 610, 180, [
        'upsertNote',
      ]),
      {
        key: 'upsertNote',
        type: 'identities-people',
        server: 'server',
        operation: 'upsertNote',
        x: 800,
        y: 180,
        wires: [['document']],
      },
      fileIn('document', 'document (set the path)', '/path/to/id-card-scan.pdf', 200, 260, ['documentName']),
      change('documentName', 'document name', [set('documentName', 'ID card scan', 'str')], 420, 260, [
        'upload',
      ]),
      {
        key: 'upload',
        type: 'identities-people',
        server: 'server',
        operation: 'uploadFileDocument',
        x: 620,
        y: 260,
        wires: [['getPerson']],
      },
      {
        key: 'getPerson',
        type: 'identities-people',
        server: 'server',
        operation: 'getPerson',
        x: 820,
        y: 260,
        wires: [['person']],
      },
      debug('person', 'the person now', 1000, 260),
      ...catchAll(170, 340),
      SERVER,
    ],
  },
  {
    title: '05 Look up a cropped face',
    nodes: [
      comment(
        'Look up who a cropped face belongs to',
        'For a face your camera or edge device already cropped (one face, filling the image): **lookup** sends it to faceEdge/lookup. Output 1 is the person (msg.personId is set), output 2 means no face or no match, which is not an error.',
      ),
      inject('start', 'look up', 130, 100, ['crop']),
      fileIn('crop', 'cropped face (set the path)', '/path/to/face-crop.jpg', 330, 100, ['lookup']),
      {
        key: 'lookup',
        type: 'identities-lookup',
        server: 'server',
        x: 530,
        y: 100,
        wires: [['found'], ['notFound']],
      },
      debug('found', 'person', 700, 80),
      debug('notFound', 'no match', 700, 120),
      ...catchAll(130, 200),
      SERVER,
    ],
  },
  {
    title: '06 Recognize a cropped face',
    nodes: [
      comment(
        'Recognize a cropped, aligned face',
        'Like lookup, for the eConnect edge format: **recognize** sends the crop (and msg.embeddings when your edge device computed them) to faceEdge/recognize. Output 1 is the person, output 2 no face or no match.',
      ),
      inject('start', 'recognize', 140, 100, ['crop']),
      fileIn('crop', 'cropped face (set the path)', '/path/to/face-crop.jpg', 340, 100, ['recognize']),
      {
        key: 'recognize',
        type: 'identities-recognize',
        server: 'server',
        x: 550,
        y: 100,
        wires: [['found'], ['notFound']],
      },
      debug('found', 'person', 730, 80),
      debug('notFound', 'no match', 730, 120),
      ...catchAll(140, 200),
      SERVER,
    ],
  },
  {
    title: '07 Detect faces in a photo',
    nodes: [
      comment(
        'Count the faces in a photo',
        '**detect** finds every face (faceDetect; nobody is enrolled or matched). Output 1 has the faces with their bounding boxes in msg.payload and msg.annotations (for node-red-node-annotate-image), output 2 means no face.',
      ),
      inject('start', 'detect', 130, 100, ['photo']),
      fileIn('photo', 'photo (set the path)', '/path/to/group-photo.jpg', 320, 100, ['detect']),
      {
        key: 'detect',
        type: 'identities-detect',
        server: 'server',
        x: 510,
        y: 100,
        wires: [['count'], ['none']],
      },
      change(
        'count',
        'faces found',
        [set('payload', '$count(payload.detections) & " face(s)"', 'jsonata')],
        700,
        80,
        ['faces'],
      ),
      debug('faces', 'faces', 890, 80),
      debug('none', 'no face', 690, 120),
      ...catchAll(130, 200),
      SERVER,
    ],
  },
  {
    title: '08 Tags - list, create, rename and delete',
    nodes: [
      comment(
        'Tags: list them, or create, rename and delete one',
        'Each **tags** node runs one operation chosen in its dialog. The second row creates the tag *Contractor* (expiring after 30 days by default), renames it with its id in msg.tagId, and deletes it again.',
      ),
      inject('list', 'list', 120, 100, ['listTags']),
      {
        key: 'listTags',
        type: 'identities-tags',
        server: 'server',
        operation: 'listTags',
        x: 290,
        y: 100,
        wires: [['tags']],
      },
      debug('tags', 'tags', 460, 100),
      inject(
        'create',
        'create, rename, delete',
        170,
        180,
        ['createTag'],
        [{ p: 'payload', v: '{"name":"Contractor","defaultExpiryDays":30}', vt: 'json' }],
      ),
      {
        key: 'createTag',
        type: 'identities-tags',
        server: 'server',
        operation: 'createTag',
        x: 390,
        y: 180,
        wires: [['rename']],
      },
      change(
        'rename',
        'rename it',
        [
          set('tagId', 'payload.tagId', 'msg'),
          set('payload', '{"name":"Contractors","defaultExpiryDays":30}', 'json'),
        ],
        580,
        180,
        ['updateTag'],
      ),
      {
        key: 'updateTag',
        type: 'identities-tags',
        server: 'server',
        operation: 'updateTag',
        x: 770,
        y: 180,
        wires: [['renamed', 'deleteTag']],
      },
      debug('renamed', 'renamed tag', 970, 160),
      {
        key: 'deleteTag',
        type: 'identities-tags',
        server: 'server',
        operation: 'deleteTag',
        x: 970,
        y: 220,
        wires: [['deleted']],
      },
      debug('deleted', 'deleted', 1150, 220, 'tagId'),
      ...catchAll(120, 280),
      SERVER,
    ],
  },
  {
    title: '09 People on the watch list and where they were seen',
    nodes: [
      comment(
        'Who is on the watch list, and where were they seen?',
        "**people: query people** with msg.tagName lists everyone with the tag; a split node takes them one by one and **people: detections of a person** gives each one's detections (camera, time, confidence).",
      ),
      inject('start', 'watch list', 130, 100, ['query'], [{ p: 'tagName', v: 'Watch list', vt: 'str' }]),
      {
        key: 'query',
        type: 'identities-people',
        server: 'server',
        operation: 'queryPeople',
        x: 320,
        y: 100,
        wires: [['people', 'split']],
      },
      debug('people', 'people on the watch list', 560, 60),
      { key: 'split', type: 'split', name: 'one by one', x: 510, y: 140, wires: [['personId']] },
      change('personId', 'msg.personId', [set('personId', 'payload.personId', 'msg')], 690, 140, [
        'detections',
      ]),
      {
        key: 'detections',
        type: 'identities-people',
        server: 'server',
        operation: 'getDetectionsByPerson',
        x: 900,
        y: 140,
        wires: [['seen']],
      },
      debug('seen', 'detections', 1090, 140),
      ...catchAll(130, 220),
      SERVER,
    ],
  },
];

/** The skeleton as Node-RED flow JSON: a tab with the example's title, deterministic ids. */
export function skeleton(example: Example): FlowJson[] {
  const tab = id(example.title, 'tab');
  const idOf = (key: string) => (key === 'server' ? SERVER_ID : id(example.title, key));
  return [
    { id: tab, type: 'tab', label: example.title.replace(/^\d+ /, ''), info: '', env: [] },
    ...example.nodes.map(({ key, wires, ...settings }) => {
      const node: FlowJson = { ...settings, id: idOf(key), type: settings.type };
      if (settings.type === 'identities-config') return node;
      if (typeof node.server === 'string') node.server = idOf(node.server);
      return { ...node, z: tab, wires: (wires ?? []).map((output) => output.map(idOf)) };
    }),
  ];
}

/** Every flow node's edit dialog runs (Done) before the export, so the export is what the dialog saves. */
const DIALOG_ROUND_TRIP = new Set(NODE_TYPES.filter((type) => type !== 'identities-config'));

async function format(flow: FlowJson[]): Promise<string> {
  const options = (await prettier.resolveConfig(path.join(EXAMPLES_DIR, 'x.json'))) ?? {};
  return prettier.format(JSON.stringify(flow, null, 4), { ...options, parser: 'json' });
}

export async function generate(check: boolean): Promise<string[]> {
  const userDir = mkdtempSync(path.join(tmpdir(), 'identities-examples-'));
  const port = await freePort();
  prepareUserDir(userDir, { port, settings: OFFLINE_EDITOR_SETTINGS });
  writeFlows(userDir, [], {});
  const nodeRed = spawnNodeRed(userDir);
  nodeRed.stdout?.resume();
  const changed: string[] = [];
  try {
    const url = `http://127.0.0.1:${port}/`;
    await waitForNodeRed(url, nodeRed);
    const editor = await openEditor(url);
    try {
      for (const example of EXAMPLES) {
        const flow = skeleton(example);
        const tabId = id(example.title, 'tab');
        await importNodes(editor.page, flow);
        await editor.page.evaluate(
          (tab) => (globalThis as unknown as EditorGlobals).RED.workspaces.show(tab),
          tabId,
        );
        for (const node of flow.filter((n) => DIALOG_ROUND_TRIP.has(n.type))) {
          await closeEditDialog(editor.page, await openEditDialog(editor.page, node.id));
        }
        const text = await format(await exportTab(editor.page, tabId));
        await removeNodes(editor.page, [tabId, SERVER_ID]);
        const file = path.join(EXAMPLES_DIR, `${example.title}.json`);
        if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
          changed.push(file);
          if (!check) writeFileSync(file, text);
        }
      }
      if (editor.errors.length) throw new Error(`the editor reported errors:\n${editor.errors.join('\n')}`);
    } finally {
      await editor.close();
    }
    // Examples no longer generated would linger in the palette's menu.
    const titles = new Set(EXAMPLES.map((example) => `${example.title}.json`));
    for (const file of readdirSync(EXAMPLES_DIR)) {
      if (file.endsWith('.json') && !titles.has(file)) {
        changed.push(path.join(EXAMPLES_DIR, file));
        if (!check) rmSync(path.join(EXAMPLES_DIR, file));
      }
    }
  } finally {
    await stopProcess(nodeRed);
    rmSync(userDir, { recursive: true, force: true });
  }
  return changed;
}

if (require.main === module) {
  const check = process.argv.includes('--check');
  generate(check)
    .then((changed) => {
      for (const file of changed)
        console.log(`${check ? 'would change' : 'wrote'} ${path.relative(ROOT, file)}`);
      if (!changed.length) console.log('examples/ is up to date');
      if (check && changed.length) process.exitCode = 1;
    })
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.stack : err);
      process.exitCode = 1;
    });
}
