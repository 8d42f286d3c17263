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
 * node's key, so a run with no change to the skeletons, the nodes or Node-RED writes nothing. The
 * examples are imported one after another into the same editor, none removed, as a user imports
 * them: an id shared by two examples fails the run (the editor's "nodes already exist" question).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import prettier from 'prettier';
import type { Tag } from '../client/client';
import type { Page } from 'playwright-core';
import {
  closeEditDialog,
  type EditorGlobals,
  type EditorNode,
  exportTab,
  importNodes,
  openEditDialog,
  openEditor,
  type FlowJson,
} from './editor';
import {
  FILE_IN_SETTINGS,
  freePort,
  NODE_TYPES,
  OFFLINE_EDITOR_SETTINGS,
  PACKAGE,
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
  /** The comment node at the top: what the flow shows, and what a second run does. */
  about: { name: string; info: string };
  /** What the example's file in nodes read, said in the comment; none when it has no file node. */
  files?: keyof typeof FILE_NOTES;
  /**
   * The node modules it needs besides Node-RED's core nodes and ours: its export lists them (the
   * editor's module list), so that Node-RED offers to install the missing ones on import.
   */
  modules?: string[];
  nodes: SkeletonNode[];
}

/**
 * Every example brings its own config node (an id of its own, the same placeholder settings), so
 * that examples import one after another without the editor's "nodes already exist" question: one
 * shared id made every second import ask, and whichever answer the user gave decided whether their
 * configured server or the placeholder survived. An example without a config node would import
 * with every identities node unconfigured, and the one the editor then adds gets a random id that
 * no other example could name. A self-contained import is also what the flow library does.
 */
function serverName(example: Example): string {
  return `eConnect Identities, example ${example.title.split(' ')[0]} (set URL, user, password)`;
}

/** A placeholder the user replaces: examples cannot know the user's server. */
function server(example: Example): SkeletonNode {
  return {
    key: 'server',
    type: 'identities-config',
    name: serverName(example),
    baseUrl: 'https://customername.econnectcloud.com/identities',
  };
}

function id(example: string, key: string): string {
  return createHash('sha256').update(`${example}\n${key}`).digest('hex').slice(0, 16);
}

const FILE_NOTES = {
  photos:
    "The photos come from files: double-click each **file in** node and set the path of a JPEG or PNG on the machine that runs Node-RED (a camera snapshot, a photo). To take the picture from a camera instead, replace the file node with an **http request** node to the camera's snapshot URL with *Return: a binary buffer*.",
  camera:
    "The camera is simulated: every 5 s the **file in** node *snapshot* reads the next of the JPEG photos that the change node *the photos (set the paths)* lists (double-click it and set their paths on the machine that runs Node-RED). For a real camera, replace the change, function and file nodes with an **http request** node to the camera's snapshot URL with *Return: a binary buffer*.",
  document:
    'The document comes from a file: double-click the **file in** node *document (set the path)* and set the path of any file on the machine that runs Node-RED (a PDF, a scan).',
} as const;

function serverNote(example: Example): string {
  return `This example brings its own server configuration, **${serverName(example)}**, so that it imports beside the other examples without Node-RED asking which nodes to keep. Before deploying, open it (the server field of any identities node) and set the server URL, user name and password; for an on-premise server with a self-signed certificate, add a TLS configuration with its CA certificate. If you have set up a server already, choose that one in this example's identities nodes instead and delete this one (the Configuration nodes sidebar then lists it as unused).`;
}

/** The example's comment node: what it shows, what its file nodes read, and its server. */
function comment(example: Example): SkeletonNode {
  const notes = [example.about.info, example.files && FILE_NOTES[example.files], serverNote(example)];
  return {
    key: 'comment',
    type: 'comment',
    name: example.about.name,
    info: notes.filter(Boolean).join('\n\n'),
    x: 330,
    y: 40,
  };
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

/** A switch with two outputs: msg.payload not empty (a list with items), and anything else. */
function ifAny(key: string, name: string, x: number, y: number, some: string, none: string): SkeletonNode {
  return {
    key,
    type: 'switch',
    name,
    property: 'payload',
    propertyType: 'msg',
    rules: [{ t: 'nempty' }, { t: 'else' }],
    checkall: 'false',
    repair: false,
    outputs: 2,
    x,
    y,
    wires: [[some], [none]],
  };
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

/**
 * The tag named in msg.tagName (tags: listTags, an exact match), its id in msg.tagId on to `found`;
 * when there is none, the message goes to `missing`. Examples look a tag up before they create it,
 * so that a second run reuses the tag instead of failing on a name that exists already.
 */
function findTag(x: number, y: number, found: string, missing: string): SkeletonNode[] {
  return [
    {
      key: 'findTag',
      type: 'identities-tags',
      name: 'find the tag by name',
      server: 'server',
      operation: 'listTags',
      x,
      y,
      wires: [['tagFound']],
    },
    ifAny('tagFound', 'found?', x + 180, y, 'existingTag', missing),
    change('existingTag', 'its msg.tagId', [set('tagId', 'payload[0].tagId', 'jsonata')], x + 340, y - 20, [
      found,
    ]),
  ];
}

/** Creates `tag` (tags: createTag) and sends its new id in msg.tagId on to `next`. */
function createTag(x: number, y: number, tag: Tag, next: string): SkeletonNode[] {
  return [
    change('newTag', `new tag: ${tag.tagName}`, [set('payload', JSON.stringify(tag), 'json')], x, y, [
      'createTag',
    ]),
    {
      key: 'createTag',
      type: 'identities-tags',
      server: 'server',
      operation: 'createTag',
      x: x + 190,
      y,
      wires: [['createdTag']],
    },
    change('createdTag', 'its msg.tagId', [set('tagId', 'payload.tagId', 'msg')], x + 370, y, [next]),
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

/** The tag example 04 puts on a person and example 09 looks for (example 01 alerts on its name). */
const WATCH_LIST: Tag = {
  tagName: 'Watch list',
  description: 'Alert when seen at a door',
  defaultExpirePeriod: '90.00:00:00',
};

/** The tag example 08 creates, renames and deletes. */
const CONTRACTOR: Tag = {
  tagName: 'Contractor',
  description: 'Temporary staff',
  defaultExpirePeriod: '30.00:00:00',
};

/**
 * A fixed document id (msg.documentId, the upload's publicId): a second run of example 04 sends the
 * document under the same id, which the emulator takes as a replacement (inferred: the guide is
 * silent on a repeated publicId).
 */
const DOCUMENT_ID = '6f1c2d3e-4b5a-4c6d-8e7f-90a1b2c3d4e5';

/**
 * A function node's code (the editor's Function tab, no closing `return` added), and the modules
 * its Setup tab loads: Node-RED installs those into the user directory on deploy.
 */
function func(
  key: string,
  name: string,
  code: string,
  x: number,
  y: number,
  wires: string[][],
  libs: { var: string; module: string }[] = [],
): SkeletonNode {
  return { key, type: 'function', name, func: code, outputs: wires.length, libs, x, y, wires };
}

/**
 * Turns an EXIF-rotated JPEG upright, in pure JavaScript (jpeg-js): phones and some cameras store
 * a photo sideways with an Orientation tag that viewers apply. The face server reports boxes in the
 * upright picture, while annotate-image draws on the stored pixels and drops the tag, so its boxes
 * would miss the faces. Doing it before the publish also means that the server, the boxes and the
 * screen see one picture whatever a server does with the tag. Frames without the tag (most camera
 * snapshots) pass untouched, at no cost.
 */
const UPRIGHT = `// Photos stored sideways with an EXIF Orientation tag are turned upright, so that the server,
// the boxes drawn by annotate-image and the screen all see the same picture. Others pass as they are.
const image = msg.payload;
if (!Buffer.isBuffer(image) || image[0] !== 0xff || image[1] !== 0xd8) return msg;

/** The EXIF Orientation (1..8) of a JPEG; 1 (upright) when it has none. */
function orientation(bytes) {
    let at = 2;
    while (at + 4 < bytes.length && bytes[at] === 0xff && bytes[at + 1] !== 0xda) {
        if (bytes[at + 1] === 0xe1 && bytes.toString('latin1', at + 4, at + 10) === 'Exif\\0\\0') {
            const tiff = at + 10;
            const little = bytes.toString('latin1', tiff, tiff + 2) === 'II';
            const u16 = (o) => (little ? bytes.readUInt16LE(o) : bytes.readUInt16BE(o));
            const u32 = (o) => (little ? bytes.readUInt32LE(o) : bytes.readUInt32BE(o));
            const ifd = tiff + u32(tiff + 4);
            for (let i = 0; i < u16(ifd); i++) {
                if (u16(ifd + 2 + i * 12) === 0x0112) return u16(ifd + 2 + i * 12 + 8);
            }
            return 1;
        }
        at += 2 + bytes.readUInt16BE(at + 2);
    }
    return 1;
}

const turn = orientation(image);
if (turn < 2 || turn > 8) return msg;
const { width: w, height: h, data } = jpeg.decode(image, { useTArray: true, maxMemoryUsageInMB: 1024 });
const W = turn >= 5 ? h : w;
const H = turn >= 5 ? w : h;
// For each upright pixel (x, y): the stored pixel it comes from, by orientation.
const source = {
    2: (x, y) => [w - 1 - x, y],
    3: (x, y) => [w - 1 - x, h - 1 - y],
    4: (x, y) => [x, h - 1 - y],
    5: (x, y) => [y, x],
    6: (x, y) => [y, h - 1 - x],
    7: (x, y) => [w - 1 - y, h - 1 - x],
    8: (x, y) => [w - 1 - y, x],
}[turn];
const upright = Buffer.alloc(W * H * 4);
for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
        const [sx, sy] = source(x, y);
        const from = (sy * w + sx) * 4;
        const to = (y * W + x) * 4;
        for (let c = 0; c < 4; c++) upright[to + c] = data[from + c];
    }
}
msg.payload = jpeg.encode({ data: upright, width: W, height: H }, 90).data;
return msg;`;

/** Colours by outcome: the publish node labels each face with the name, or 'unknown'. */
const FRAME_TO_DRAW = `// The publish result goes to msg.result and the published picture to msg.payload, for
// annotate-image; each box is green for a matched face and amber for an unknown one.
const faces = msg.payload.detectedFaces;
msg.result = msg.payload;
msg.payload = msg.image;
msg.annotations = msg.annotations.map((box, i) => {
    const colour = faces[i] && faces[i].person ? '#2e7d32' : '#ff8f00';
    // Labels as large as a quarter of the face's width, at least 24 pt.
    return { ...box, stroke: colour, fontColor: colour, lineWidth: 6, fontSize: Math.max(24, Math.round(box.bbox[2] / 4)) };
});
return msg;`;

/** What every annotated frame goes through: upright, published, drawn and shown in the editor. */
function annotatedFrames(x: number, y: number, next: string[]): SkeletonNode[] {
  return [
    func('upright', 'upright (EXIF)', UPRIGHT, x, y, [['publish']], [{ var: 'jpeg', module: 'jpeg-js' }]),
    {
      key: 'publish',
      type: 'identities-publish',
      name: 'front door',
      server: 'server',
      detectorName: 'FrontDoorCam',
      includePerson: 'true',
      includeNames: 'true',
      includeTags: 'true',
      largestFaceOnly: 'false',
      x: x + 180,
      y,
      wires: [['frameToDraw']],
    },
    func('frameToDraw', 'boxes coloured by outcome', FRAME_TO_DRAW, x + 390, y, [['annotate']]),
    {
      key: 'annotate',
      type: 'annotate-image',
      name: 'draw boxes and names',
      x: x + 610,
      y,
      wires: [['preview', ...next]],
    },
    {
      key: 'preview',
      type: 'image',
      name: 'annotated frame',
      width: '320',
      data: 'payload',
      dataType: 'msg',
      thumbnail: false,
      active: true,
      pass: false,
      outputs: 0,
      x: x + 820,
      y: y + 40,
    },
  ];
}

/** The dashboard's camera, page and groups (FlowFuse Dashboard 2.0 config nodes). */
function dashboardConfig(): SkeletonNode[] {
  const group = (key: string, name: string, width: number, order: number): SkeletonNode => ({
    key,
    type: 'ui-group',
    name,
    page: 'page',
    width: String(width),
    height: '1',
    order,
    showTitle: true,
  });
  return [
    { key: 'ui', type: 'ui-base', name: 'Door monitor', path: '/dashboard' },
    { key: 'theme', type: 'ui-theme', name: 'Door monitor theme' },
    {
      key: 'page',
      type: 'ui-page',
      name: 'Door monitor',
      ui: 'ui',
      path: '/door',
      icon: 'door',
      layout: 'grid',
      theme: 'theme',
      order: 1,
    },
    group('doorGroup', 'At the door', 6, 1),
    group('detections', 'Last 20 detections', 6, 2),
    group('enrollGroup', 'Enroll a person', 4, 3),
    group('cameraGroup', 'Camera', 2, 4),
  ];
}

function uiTemplate(
  key: string,
  name: string,
  group: string,
  format: string,
  x: number,
  y: number,
  wires: string[],
): SkeletonNode {
  return {
    key,
    type: 'ui-template',
    name,
    group,
    format,
    templateScope: 'local',
    passthru: false,
    storeOutMessages: true,
    resendOnRefresh: true,
    order: 1,
    width: '0',
    height: '0',
    x,
    y,
    wires: [wires],
  };
}

/** The latest frame with its boxes, who it is, their tags and notes, and the watch-list banner. */
const AT_THE_DOOR_TEMPLATE = `<template>
    <div class="door">
        <div v-if="msg?.payload?.watch?.length" class="door-banner">WATCH LIST: {{ msg.payload.watch.join(', ') }}</div>
        <img v-if="msg?.payload?.frame" class="door-frame" :src="msg.payload.frame" :title="msg.payload.source" :data-source="msg.payload.source" alt="the latest frame" />
        <div class="door-name">{{ msg?.payload?.name ?? 'Waiting for the camera' }}</div>
        <div class="door-time">{{ msg?.payload?.time }}</div>
        <div class="door-tags"><span v-for="tag in msg?.payload?.tags ?? []" :key="tag" class="door-tag">{{ tag }}</span></div>
        <ul class="door-notes">
            <li v-for="note in msg?.payload?.notes ?? []" :key="note.summary"><b>{{ note.summary }}</b> {{ note.body }}</li>
        </ul>
    </div>
</template>
<style scoped>
.door-banner { background: #c62828; color: #fff; font-weight: bold; font-size: 1.4em; padding: 8px 12px; border-radius: 4px; margin-bottom: 8px; }
.door-frame { width: 100%; max-height: 60vh; object-fit: contain; background: #222; }
.door-name { font-size: 1.6em; font-weight: bold; margin-top: 6px; }
.door-time { color: #777; }
.door-tag { display: inline-block; background: #1565c0; color: #fff; border-radius: 12px; padding: 2px 10px; margin: 4px 4px 0 0; }
.door-notes { margin-top: 6px; }
</style>`;

/**
 * The enroll form. The browser draws the photo on a canvas (which applies its EXIF orientation) at
 * most 1280 px on a side, so a phone photo of several MB arrives as a JPEG of a few hundred kB.
 */
const ENROLL_TEMPLATE = `<template>
    <form class="enroll" @submit.prevent="enroll">
        <label>Photo <input class="enroll-photo" type="file" accept="image/jpeg,image/png" ref="photo" required /></label>
        <label>First name <input class="enroll-first" v-model="firstName" required /></label>
        <label>Last name <input class="enroll-last" v-model="lastName" required /></label>
        <label>Tags (comma-separated, optional) <input class="enroll-tags" v-model="tags" /></label>
        <button class="enroll-submit" type="submit" :disabled="busy">Enroll</button>
        <div v-if="unreadable" class="enroll-result error">That file is not a picture the browser can read.</div>
        <div v-else-if="msg?.payload?.text" :class="['enroll-result', msg.payload.status]">{{ msg.payload.text }}</div>
    </form>
</template>
<script>
export default {
    data() { return { firstName: '', lastName: '', tags: '', busy: false, unreadable: false } },
    watch: { msg() { this.busy = false } },
    methods: {
        async enroll() {
            const file = this.$refs.photo.files[0];
            if (!file) return;
            this.busy = true;
            this.unreadable = false;
            let bitmap;
            try {
                bitmap = await createImageBitmap(file);
            } catch (err) {
                this.busy = false;
                this.unreadable = true;
                return;
            }
            const scale = Math.min(1, 1280 / Math.max(bitmap.width, bitmap.height));
            const canvas = document.createElement('canvas');
            canvas.width = Math.round(bitmap.width * scale);
            canvas.height = Math.round(bitmap.height * scale);
            canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
            this.send({ payload: {
                photo: canvas.toDataURL('image/jpeg', 0.9),
                firstName: this.firstName.trim(),
                lastName: this.lastName.trim(),
                tags: this.tags.split(',').map((tag) => tag.trim()).filter(Boolean),
            } });
        },
    },
}
</script>
<style scoped>
.enroll label { display: block; margin-bottom: 8px; }
.enroll input { display: block; width: 100%; border: 1px solid #999; border-radius: 4px; padding: 4px; }
.enroll-submit { background: #1565c0; color: #fff; border-radius: 4px; padding: 6px 16px; }
.enroll-result { margin-top: 8px; padding: 6px; border-radius: 4px; }
.enroll-result.ok { background: #e8f5e9; color: #1b5e20; }
.enroll-result.error { background: #ffebee; color: #b71c1c; font-weight: bold; }
</style>`;

const NEXT_PHOTO = `// The simulated camera: the photos in msg.photos, one after another.
const photos = msg.photos;
const next = (flow.get('photoIndex') || 0) % photos.length;
flow.set('photoIndex', next + 1);
msg.filename = photos[next];
return msg;`;

const KEEP_FRAME = `// The annotated frame as a data URL for the page; the first matched face's person is read whole
// (Get Identity: its notes) on output 1, a frame with nobody known goes straight to the page.
msg.frame = 'data:image/jpeg;base64,' + msg.payload.toString('base64');
const matched = msg.result.detectedFaces.find((face) => face.person);
if (!matched) return [null, msg];
msg.personId = matched.person.personId;
return [msg, null];`;

const CARD = `// What the page shows of this frame (output 1), and the people seen so far for the detections
// list (output 2). The tags that raise the banner:
const WATCH_LIST = ['${WATCH_LIST.tagName}'];
const faces = msg.result.detectedFaces;
const nameOf = (person) =>
    person.friendlyName ||
    (person.aliases || []).map((a) => [a.firstName, a.lastName].filter(Boolean).join(' ')).find(Boolean) ||
    person.personId;
const matched = faces.filter((face) => face.person);
const tags = [...new Set(matched.flatMap((face) => (face.person.personTags || []).map((t) => t.tag && t.tag.name)))].filter(Boolean);
const record = msg.personId ? msg.payload : {};
msg.payload = {
    frame: msg.frame,
    // Which camera (its snapshot URL) or file the frame came from.
    source: msg.url || msg.filename || '',
    time: new Date().toLocaleString(),
    name: matched.length ? matched.map((face) => nameOf(face.person)).join(', ') : faces.length ? 'Unknown visitor' : 'Nobody in the picture',
    faces: faces.map((face) => ({ name: face.person ? nameOf(face.person) : 'unknown', box: face.boundingBox })),
    tags,
    notes: (record.notes || []).map((note) => ({ summary: note.summary, body: note.body })),
    watch: tags.filter((tag) => WATCH_LIST.includes(tag)),
};
const people = flow.get('doorPeople') || {};
for (const face of matched) people[face.person.personId] = nameOf(face.person);
flow.set('doorPeople', people);
return [msg, matched.length ? { people } : null];`;

const WHO_TO_ASK = `// One request per person seen: their 20 latest detections of the last 7 days (the server's
// default is the 10 oldest), numbered so that the join node puts the answers back together.
const ids = Object.keys(msg.people);
const now = Date.now();
const id = RED.util.generateId();
return [ids.map((personId, index) => ({
    personId,
    personName: msg.people[personId],
    take: 20,
    dateAscending: false,
    epochStartMs: now - 7 * 24 * 3600 * 1000,
    epochEndMs: now,
    parts: { id, index, count: ids.length, type: 'array', len: 1 },
}))];`;

const LATEST_20 = `// Everyone's detections in one list, the latest first, each at its time in the zone it was seen in.
msg.payload = msg.payload
    .flat()
    .sort((a, b) => Date.parse(b.utc) - Date.parse(a.utc))
    .slice(0, 20)
    .map((d) => ({
        time: new Date(d.utc).toLocaleString('en-GB', { timeZone: d.zone || undefined }),
        detector: d.detector,
        name: d.name,
        confidence: Math.round(d.confidence * 100) + ' %',
    }));
return msg;`;

const ONE_PER_TAG = `// Each tag of the form in a message of its own (found or created by name, then put on the person);
// without tags the enrollment is done.
const tags = msg.form.tags || [];
if (!tags.length) return [null, msg];
const id = RED.util.generateId();
return [tags.map((tagName, index) => ({ ...msg, tagName, parts: { id, index, count: tags.length, type: 'array', len: 1 } })), null];`;

const ENROLL_FAILED = `// What the form says when the enrollment failed: a photo without a usable face is the usual case.
const noFace = /rejected|no face/i.test(String(msg.error && msg.error.message));
msg.payload = {
    status: 'error',
    text: noFace
        ? 'No usable face in this photo: take one of a single face, front-on, sharp and well lit.'
        : 'Enrollment failed: ' + msg.error.message,
};
return msg;`;

/** The door monitor: camera, annotated frames, who it is, the latest detections, enrollment. */
function doorMonitor(): SkeletonNode[] {
  return [
    ...dashboardConfig(),
    { ...inject('tick', 'every 5 s', 130, 100, ['cameraOn?']), repeat: '5' },
    {
      ...inject(
        'startCamera',
        'camera on at start',
        160,
        160,
        ['cameraSwitch'],
        [{ p: 'payload', v: 'true', vt: 'bool' }],
      ),
      once: true,
      onceDelay: '2',
    },
    {
      key: 'cameraSwitch',
      type: 'ui-switch',
      name: '',
      label: 'Camera',
      group: 'cameraGroup',
      passthru: true,
      topic: 'camera',
      topicType: 'str',
      onvalue: 'true',
      onvalueType: 'bool',
      offvalue: 'false',
      offvalueType: 'bool',
      x: 370,
      y: 160,
      wires: [['cameraState']],
    },
    change(
      'cameraState',
      'flow.cameraOn',
      [{ t: 'set', p: 'cameraOn', pt: 'flow', to: 'payload', tot: 'msg' }],
      560,
      160,
      ['cameraOn?'],
    ),
    {
      key: 'cameraOn?',
      type: 'switch',
      name: 'camera on?',
      property: 'cameraOn',
      propertyType: 'flow',
      rules: [{ t: 'true' }],
      checkall: 'true',
      repair: false,
      outputs: 1,
      x: 330,
      y: 100,
      wires: [['photos']],
    },
    change(
      'photos',
      'the photos (set the paths)',
      [set('photos', JSON.stringify(['/path/to/snapshot-1.jpg', '/path/to/snapshot-2.jpg']), 'json')],
      560,
      100,
      ['nextPhoto'],
    ),
    func('nextPhoto', 'next photo', NEXT_PHOTO, 760, 100, [['snapshot']]),
    {
      key: 'snapshot',
      type: 'file in',
      name: 'snapshot',
      filename: 'filename',
      ...FILE_IN_SETTINGS,
      filenameType: 'msg',
      x: 920,
      y: 100,
      wires: [['upright']],
    },
    ...annotatedFrames(140, 240, ['keepFrame']),
    func('keepFrame', 'frame; who is it?', KEEP_FRAME, 140, 340, [['getPerson'], ['card']]),
    {
      key: 'getPerson',
      type: 'identities-people',
      name: 'their notes (Get Identity)',
      server: 'server',
      operation: 'getPerson',
      x: 370,
      y: 320,
      wires: [['card']],
    },
    func('card', 'what the page shows', CARD, 600, 340, [['atTheDoor'], ['whoToAsk']]),
    uiTemplate('atTheDoor', 'at the door', 'doorGroup', AT_THE_DOOR_TEMPLATE, 830, 320, []),
    func('whoToAsk', 'their latest detections', WHO_TO_ASK, 180, 420, [['detectionsOf']]),
    {
      key: 'detectionsOf',
      type: 'identities-people',
      server: 'server',
      operation: 'getDetectionsByPerson',
      x: 420,
      y: 420,
      wires: [['nameEach']],
    },
    change(
      'nameEach',
      'with their name, no photo',
      [
        set(
          'payload',
          '[payload.{"utc": dateTimeUtc, "zone": timeZone, "detector": detector, "confidence": confidence, "name": $$.personName}]',
          'jsonata',
        ),
      ],
      660,
      420,
      ['joinAnswers'],
    ),
    { key: 'joinAnswers', type: 'join', name: '', mode: 'auto', x: 850, y: 420, wires: [['latest20']] },
    func('latest20', 'the latest 20', LATEST_20, 990, 420, [['table']]),
    {
      key: 'table',
      type: 'ui-table',
      name: 'last 20 detections',
      group: 'detections',
      autocols: false,
      showSearch: false,
      action: 'replace',
      maxrows: 20,
      columns: [
        { title: 'Time', key: 'time', keyType: 'key', type: 'text', width: '', align: 'start' },
        { title: 'Detector', key: 'detector', keyType: 'key', type: 'text', width: '', align: 'start' },
        { title: 'Name', key: 'name', keyType: 'key', type: 'text', width: '', align: 'start' },
        { title: 'Confidence', key: 'confidence', keyType: 'key', type: 'text', width: '', align: 'end' },
      ],
      x: 1160,
      y: 420,
      wires: [[]],
    },
    uiTemplate('form', 'enroll form', 'enrollGroup', ENROLL_TEMPLATE, 140, 520, ['photo?']),
    {
      key: 'photo?',
      type: 'switch',
      name: 'a photo?',
      property: 'payload.photo',
      propertyType: 'msg',
      rules: [{ t: 'nempty' }],
      checkall: 'true',
      repair: false,
      outputs: 1,
      x: 310,
      y: 520,
      wires: [['keepForm']],
    },
    change(
      'keepForm',
      'keep the form',
      [set('form', 'payload', 'msg'), set('payload', 'form.photo', 'msg')],
      470,
      520,
      ['enroll'],
    ),
    {
      key: 'enroll',
      type: 'identities-enroll',
      name: 'enroll',
      server: 'server',
      operation: 'faceEnroll',
      x: 640,
      y: 520,
      wires: [['aliasOf']],
    },
    change(
      'aliasOf',
      'their name',
      [set('payload', '{"firstName": form.firstName, "lastName": form.lastName}', 'jsonata')],
      800,
      520,
      ['upsertAlias'],
    ),
    {
      key: 'upsertAlias',
      type: 'identities-people',
      server: 'server',
      operation: 'upsertAlias',
      x: 990,
      y: 520,
      wires: [['onePerTag']],
    },
    func('onePerTag', 'one per tag', ONE_PER_TAG, 160, 600, [['findTag'], ['enrolled']]),
    ...findTag(360, 600, 'personTag', 'newTag'),
    change('newTag', 'new tag of that name', [set('payload', '{"tagName": tagName}', 'jsonata')], 540, 660, [
      'createTag',
    ]),
    {
      key: 'createTag',
      type: 'identities-tags',
      server: 'server',
      operation: 'createTag',
      x: 740,
      y: 660,
      wires: [['createdTag']],
    },
    change('createdTag', 'its msg.tagId', [set('tagId', 'payload.tagId', 'msg')], 930, 660, ['personTag']),
    change('personTag', 'put it on', [set('payload', '{"tagId": tagId}', 'jsonata')], 930, 600, [
      'upsertPersonTag',
    ]),
    {
      key: 'upsertPersonTag',
      type: 'identities-people',
      server: 'server',
      operation: 'upsertPersonTag',
      x: 1110,
      y: 600,
      wires: [['joinTags']],
    },
    { key: 'joinTags', type: 'join', name: '', mode: 'auto', x: 1290, y: 600, wires: [['enrolled']] },
    change(
      'enrolled',
      'say so',
      [
        set(
          'payload',
          '{"status": "ok", "text": "Enrolled " & form.firstName & " " & form.lastName & ($count(form.tags) ? " (" & $join(form.tags, ", ") & ")" : "")}',
          'jsonata',
        ),
      ],
      1290,
      680,
      ['form'],
    ),
    {
      key: 'enrollErrors',
      type: 'catch',
      name: 'enrollment failed',
      scope: ['enroll', 'upsertAlias', 'findTag', 'createTag', 'upsertPersonTag'],
      uncaught: false,
      x: 160,
      y: 740,
      wires: [['enrollFailed']],
    },
    func('enrollFailed', 'say why', ENROLL_FAILED, 360, 740, [['form']]),
    ...catchAll(140, 800),
  ];
}

export const EXAMPLES: Example[] = [
  {
    title: '01 Door camera - publish and act on VIP',
    about: {
      name: 'Door camera: publish each snapshot, greet VIPs, alert on the watch list',
      info: "Every face in the snapshot goes to **publishWithResponse** (one message per face, three outputs: matched, unknown, no face). A matched person's tags decide what happens: **VIP** gets a greeting, **Watch list** an alert, anyone else is just logged. Replace the debug nodes with your notification (e-mail, Telegram, a door relay). Each click is a new snapshot; duplicate prevention is on (allowDoubleDetection false, the node's default), so that the server does not process the same face repeatedly when it comes back moments later.",
    },
    files: 'photos',
    nodes: [
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
    ],
  },
  {
    title: '02 Enroll a person from a photo and check the reference',
    about: {
      name: 'Enroll a person from a portrait once, name them, and skip them when enrolled already',
      info: "msg.photoReferenceId is the photo's reference in your own system (e.g. a badge number). The flow first asks the server whether that reference is enrolled already (**check the reference**). Only when it is not does it enroll the face in the portrait as a new person and name them with **people: add or update an alias**; the debug node shows the new msg.personId, which example 04 takes. A second click finds the reference and enrolls nobody.",
    },
    files: 'photos',
    nodes: [
      inject(
        'enroll',
        'enroll badge 0042',
        150,
        100,
        ['checkReference'],
        [{ p: 'photoReferenceId', v: 'badge-0042', vt: 'str' }],
      ),
      {
        key: 'checkReference',
        type: 'identities-enroll',
        name: 'check the reference',
        server: 'server',
        operation: 'checkImageReference',
        x: 370,
        y: 100,
        wires: [['enrolled?']],
      },
      {
        key: 'enrolled?',
        type: 'switch',
        name: 'enrolled already?',
        property: 'payload.exists',
        propertyType: 'msg',
        rules: [{ t: 'true' }, { t: 'else' }],
        checkall: 'false',
        repair: false,
        outputs: 2,
        x: 580,
        y: 100,
        wires: [['exists'], ['portrait']],
      },
      debug('exists', 'enrolled already: nothing to do', 850, 60),
      fileIn('portrait', 'portrait (set the path)', '/path/to/portrait.jpg', 200, 180, ['faceEnroll']),
      {
        key: 'faceEnroll',
        type: 'identities-enroll',
        name: 'enroll a new person',
        server: 'server',
        operation: 'faceEnroll',
        x: 420,
        y: 180,
        wires: [['alias']],
      },
      change(
        'alias',
        'name: Jane Doe',
        [set('payload', '{"firstName":"Jane","lastName":"Doe","title":"Ms"}', 'json')],
        630,
        180,
        ['upsertAlias'],
      ),
      {
        key: 'upsertAlias',
        type: 'identities-people',
        name: '',
        server: 'server',
        operation: 'upsertAlias',
        x: 840,
        y: 180,
        wires: [['enrolled']],
      },
      debug('enrolled', 'enrolled person', 1030, 180, 'true'),
      ...catchAll(150, 260),
    ],
  },
  {
    title: '03 Compare two photos',
    about: {
      name: 'Compare two photos: the same person or not?',
      info: 'The first photo is kept in msg.image2 while the second is read into msg.payload; **compare** sends both to faceCompare and routes the result: output 1 when they match, output 2 when they do not. Useful to check an ID photo against a selfie without enrolling anyone, so it can run any number of times.',
    },
    files: 'photos',
    nodes: [
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
    ],
  },
  {
    title: '04 Keep a person - aliases, tags, notes and a document',
    about: {
      name: "Keep a person's record: alias, a tag, a note and a document, then read it back",
      info: `Set msg.personId in the inject node to a person of yours (e.g. the msg.personId example 02 shows). The chain gets the person first and keeps it in msg.person. It adds the alias John Smith; finds the tag **${WATCH_LIST.tagName}** by name (**tags: list tags** with msg.tagName) and creates it only when it is missing, with defaultExpirePeriod ${WATCH_LIST.defaultExpirePeriod} (90 days); puts it on the person; adds the note *Loading dock* (summary, body, author); uploads a document under a fixed msg.documentId; and finally gets the whole person. Run it again and it updates the same records instead of adding copies: the alias and the note found in msg.person go with their personAliasId and noteId, the tag the person has already (**people: get person tags** with msg.tagName) with its personTagId where the server gives one (otherwise it is left as it is: a PUT without an id would apply it twice), and the document goes up again under the same id (the emulator replaces it; the guide does not say what a server does with a repeated publicId). Each **people** node does one operation, chosen in its dialog; ids travel in msg.personId, msg.tagId and msg.documentId.`,
    },
    files: 'document',
    nodes: [
      inject(
        'start',
        'person (set msg.personId)',
        170,
        100,
        ['getPerson'],
        [{ p: 'personId', v: 'paste-a-person-id', vt: 'str' }],
      ),
      {
        key: 'getPerson',
        type: 'identities-people',
        name: 'the person as it is',
        server: 'server',
        operation: 'getPerson',
        x: 390,
        y: 100,
        wires: [['keepPerson']],
      },
      change(
        'keepPerson',
        'keep it in msg.person',
        [{ t: 'move', p: 'payload', pt: 'msg', to: 'person', tot: 'msg' }],
        600,
        100,
        ['alias'],
      ),
      change(
        'alias',
        'alias: John Smith',
        [
          set(
            'payload',
            '{"personAliasId": person.aliases[firstName = "John" and lastName = "Smith"][0].personAliasId, "firstName": "John", "lastName": "Smith", "title": "Mr"}',
            'jsonata',
          ),
        ],
        800,
        100,
        ['upsertAlias'],
      ),
      {
        key: 'upsertAlias',
        type: 'identities-people',
        server: 'server',
        operation: 'upsertAlias',
        x: 990,
        y: 100,
        wires: [['tagName']],
      },
      change(
        'tagName',
        `msg.tagName: ${WATCH_LIST.tagName}`,
        [set('tagName', WATCH_LIST.tagName, 'str')],
        1190,
        100,
        ['findTag'],
      ),
      ...findTag(190, 180, 'personTags', 'newTag'),
      ...createTag(530, 220, WATCH_LIST, 'personTags'),
      {
        key: 'personTags',
        type: 'identities-people',
        name: "the person's tag of that name",
        server: 'server',
        operation: 'getPersonTags',
        x: 1110,
        y: 180,
        wires: [['renewable']],
      },
      {
        // A person tag without a personTagId (the guide's objects show none) cannot be renewed: a
        // PUT without an id would apply the tag a second time, so it is left as it is.
        key: 'renewable',
        type: 'switch',
        name: 'not on yet, or renewable by its id',
        property: '$count(payload) = 0 or $exists(payload[0].personTagId)',
        propertyType: 'jsonata',
        rules: [{ t: 'true' }, { t: 'else' }],
        checkall: 'false',
        repair: false,
        outputs: 2,
        x: 1190,
        y: 240,
        wires: [['personTag'], ['note']],
      },
      change(
        'personTag',
        'put it on (or renew it)',
        [set('payload', '{"personTagId": payload[0].personTagId, "tagId": tagId}', 'jsonata')],
        200,
        300,
        ['upsertPersonTag'],
      ),
      {
        key: 'upsertPersonTag',
        type: 'identities-people',
        server: 'server',
        operation: 'upsertPersonTag',
        x: 420,
        y: 300,
        wires: [['note']],
      },
      change(
        'note',
        'note: Loading dock',
        [
          set(
            'payload',
            '{"noteId": person.notes[summary = "Loading dock"][0].noteId, "summary": "Loading dock", "body": "Seen at the loading dock after hours.", "author": "Node-RED"}',
            'jsonata',
          ),
        ],
        630,
        300,
        ['upsertNote'],
      ),
      {
        key: 'upsertNote',
        type: 'identities-people',
        server: 'server',
        operation: 'upsertNote',
        x: 830,
        y: 300,
        wires: [['document']],
      },
      fileIn('document', 'document (set the path)', '/path/to/id-card-scan.pdf', 200, 380, ['documentName']),
      change(
        'documentName',
        'document name and id',
        [set('documentName', 'ID card scan', 'str'), set('documentId', DOCUMENT_ID, 'str')],
        430,
        380,
        ['upload'],
      ),
      {
        key: 'upload',
        type: 'identities-people',
        server: 'server',
        operation: 'uploadFileDocument',
        x: 640,
        y: 380,
        wires: [['getPersonAfter']],
      },
      {
        key: 'getPersonAfter',
        type: 'identities-people',
        name: 'the person now',
        server: 'server',
        operation: 'getPerson',
        x: 840,
        y: 380,
        wires: [['person']],
      },
      debug('person', 'the person now', 1030, 380),
      ...catchAll(170, 460),
    ],
  },
  {
    title: '05 Look up a cropped face',
    about: {
      name: 'Look up who a cropped face belongs to',
      info: 'For a face your camera or edge device already cropped (one face, filling the image): **lookup** sends it to faceEdge/lookup. Output 1 is the person (msg.personId is set), output 2 means no face or no match, which is not an error. It enrolls no one, so it can run any number of times.',
    },
    files: 'photos',
    nodes: [
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
    ],
  },
  {
    title: '06 Recognize a cropped face',
    about: {
      name: 'Recognize a cropped, aligned face',
      info: "Like lookup, for the eConnect edge format: **recognize** sends the crop (and msg.embeddings when your edge device computed them) to faceEdge/recognize, with where and when it was seen: the detector name *EdgeCam*, this machine's time zone and msg.detectTime, or the current time without it (all three are set in the dialog). Output 1 is the person, output 2 no face or no match. It can run any number of times.",
    },
    files: 'photos',
    nodes: [
      inject('start', 'recognize', 140, 100, ['crop']),
      fileIn('crop', 'cropped face (set the path)', '/path/to/face-crop.jpg', 340, 100, ['recognize']),
      {
        key: 'recognize',
        type: 'identities-recognize',
        server: 'server',
        detectorName: 'EdgeCam',
        detectorNameType: 'str',
        x: 550,
        y: 100,
        wires: [['found'], ['notFound']],
      },
      debug('found', 'person', 730, 80),
      debug('notFound', 'no match', 730, 120),
      ...catchAll(140, 200),
    ],
  },
  {
    title: '07 Detect faces in a photo',
    about: {
      name: 'Count the faces in a photo',
      info: '**detect** finds every face (faceDetect), each with its bounding box and the person it matches, if any; nobody is enrolled, so it can run any number of times. Output 1 has the faces in msg.payload and their boxes in msg.annotations (for node-red-node-annotate-image), output 2 means no face.',
    },
    files: 'photos',
    nodes: [
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
    ],
  },
  {
    title: '08 Tags - list, create, rename and delete',
    about: {
      name: 'Tags: list them, or create, rename and delete one',
      info: `Each **tags** node runs one operation chosen in its dialog. The first row lists every tag. The second looks the tag *${CONTRACTOR.tagName}* up by name (msg.tagName) and creates it when it is missing (tagName, description, defaultExpirePeriod ${CONTRACTOR.defaultExpirePeriod}: a person it is put on without an expiry of their own loses it after 30 days), renames it to *Contractors* with its id in msg.tagId, reads it back and deletes it. So every run ends without the tag, and a run that stopped half-way left a *${CONTRACTOR.tagName}* that the next run finds instead of failing on a name that exists already.`,
    },
    nodes: [
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
        ['findTag'],
        [{ p: 'tagName', v: CONTRACTOR.tagName, vt: 'str' }],
      ),
      ...findTag(390, 180, 'rename', 'newTag'),
      ...createTag(730, 220, CONTRACTOR, 'rename'),
      change(
        'rename',
        'rename it',
        [set('payload', JSON.stringify({ ...CONTRACTOR, tagName: 'Contractors' }), 'json')],
        180,
        300,
        ['updateTag'],
      ),
      {
        key: 'updateTag',
        type: 'identities-tags',
        server: 'server',
        operation: 'updateTag',
        x: 360,
        y: 300,
        wires: [['getTag']],
      },
      {
        key: 'getTag',
        type: 'identities-tags',
        server: 'server',
        operation: 'getTag',
        x: 540,
        y: 300,
        wires: [['renamed', 'deleteTag']],
      },
      debug('renamed', 'renamed tag', 740, 280),
      {
        key: 'deleteTag',
        type: 'identities-tags',
        server: 'server',
        operation: 'deleteTag',
        x: 740,
        y: 320,
        wires: [['deleted']],
      },
      debug('deleted', 'deleted', 920, 320, 'tagId'),
      ...catchAll(120, 400),
    ],
  },
  {
    title: '09 People on the watch list and where they were seen',
    about: {
      name: 'Who is on the watch list, and where were they seen lately?',
      info: `The tag **${WATCH_LIST.tagName}** is found by name (**tags: list tags** with msg.tagName; example 04 creates it; without it the debug node *no tag named ${WATCH_LIST.tagName} yet* says so). **people: query people** with its msg.tagId lists everyone who has it; a split node takes them one by one and **people: detections of a person** gives each one's 5 latest detections: msg.take 5 and msg.dateAscending false, as the server sends the 10 oldest by default. The last change node keeps when, the time zone, the camera and the confidence of each, without the photos (base64 JPEG). It only reads, so it can run any number of times.`,
    },
    nodes: [
      inject(
        'start',
        'watch list',
        130,
        100,
        ['findTag'],
        [{ p: 'tagName', v: WATCH_LIST.tagName, vt: 'str' }],
      ),
      ...findTag(320, 100, 'query', 'noTag'),
      debug('noTag', `no tag named ${WATCH_LIST.tagName} yet`, 740, 140),
      {
        key: 'query',
        type: 'identities-people',
        server: 'server',
        operation: 'queryPeople',
        x: 180,
        y: 220,
        wires: [['people', 'split']],
      },
      debug('people', 'people on the watch list', 420, 180),
      { key: 'split', type: 'split', name: 'one by one', x: 370, y: 220, wires: [['latest']] },
      change(
        'latest',
        'their 5 latest',
        [
          set('personId', 'payload.personId', 'msg'),
          set('take', '5', 'num'),
          set('dateAscending', 'false', 'bool'),
        ],
        550,
        220,
        ['detections'],
      ),
      {
        key: 'detections',
        type: 'identities-people',
        server: 'server',
        operation: 'getDetectionsByPerson',
        x: 770,
        y: 220,
        wires: [['seen']],
      },
      change(
        'seen',
        'when and where',
        [
          set(
            'payload',
            '{"personId": personId, "seen": [payload.{"when": dateTimeUtc, "timeZone": timeZone, "camera": detector, "confidence": confidence}]}',
            'jsonata',
          ),
        ],
        990,
        220,
        ['sightings'],
      ),
      debug('sightings', 'latest sightings', 1180, 220),
      ...catchAll(130, 300),
    ],
  },
  {
    title: '10 Annotated frames - boxes and names on the picture',
    about: {
      name: 'Draw a box and a name on every face of a published frame',
      info: "Each snapshot is turned upright first (*upright (EXIF)*: a photo stored sideways with an EXIF Orientation tag, as phones take them, is rotated in pure JavaScript with jpeg-js, which Node-RED installs on deploy from the function's Setup tab), then published with every face (largestFaceOnly off, the matched people with names and tags). **annotate-image** draws msg.annotations on the published picture: a box and a label per face, the name for a matched face and *unknown* otherwise, green for matched and amber for unknown. The **image** node shows the result under itself in the editor. JPEG snapshots only (annotate-image draws on JPEG). Needs node-red-node-annotate-image and node-red-contrib-image-output.",
    },
    files: 'photos',
    modules: ['node-red-node-annotate-image', 'node-red-contrib-image-output'],
    nodes: [
      inject('snapshot', 'camera snapshot', 140, 100, ['photo']),
      fileIn('photo', 'snapshot file (set the path)', '/path/to/door-snapshot.jpg', 350, 100, ['upright']),
      ...annotatedFrames(140, 180, []),
      ...catchAll(140, 280),
    ],
  },
  {
    title: '11 Door monitor dashboard',
    about: {
      name: 'Door monitor: who is at the door, the last 20 detections, and enrollment, on one dashboard page',
      info: `A FlowFuse Dashboard 2.0 page at /dashboard/door. **At the door**: the latest frame with a box and a name per face (as example 10), the matched person's name, tags and notes (Get Identity), and a red banner when they carry a watch-list tag (the list is at the top of the function *what the page shows*: ${WATCH_LIST.tagName}). **Last 20 detections**: for everyone seen since the flow started, **people: detections of a person** with msg.take 20, msg.dateAscending false and a time window of the last 7 days (msg.epochStartMs, msg.epochEndMs), merged, the latest first, each at its time in the zone it was seen in. **Enroll a person**: a photo from the browser, first and last name and optional comma-separated tags: it enrolls the face, adds the name as an alias, finds or creates each tag by name and puts it on the person, and says so, or says that the photo has no usable face. **Camera**: turns the camera off and on (on at start; turning it on sends a frame at once). Needs @flowfuse/node-red-dashboard, node-red-node-annotate-image and node-red-contrib-image-output.`,
    },
    files: 'camera',
    modules: [
      '@flowfuse/node-red-dashboard',
      'node-red-node-annotate-image',
      'node-red-contrib-image-output',
    ],
    nodes: doorMonitor(),
  },
];

/** The skeleton as Node-RED flow JSON: a tab with the example's title, deterministic ids. */
export function skeleton(example: Example): FlowJson[] {
  const tab = id(example.title, 'tab');
  const idOf = (key: string) => id(example.title, key);
  const nodes = [comment(example), ...example.nodes, server(example)];
  const keys = new Set(nodes.map((node) => node.key));
  if (keys.size !== nodes.length) throw new Error(`${example.title}: two nodes share a key`);
  const resolve = (value: unknown): unknown =>
    typeof value === 'string' && keys.has(value)
      ? idOf(value)
      : Array.isArray(value)
        ? value.map(resolve)
        : value;
  return [
    { id: tab, type: 'tab', label: example.title.replace(/^\d+ /, ''), info: '', env: [] },
    ...nodes.map(({ key, wires, ...settings }) => {
      const node: FlowJson = { ...settings, id: idOf(key), type: settings.type };
      for (const field of REFERENCES) if (field in node) node[field] = resolve(node[field]);
      if (CONFIG_TYPES.has(settings.type)) return node;
      return { ...node, z: tab, wires: (wires ?? []).map((output) => output.map(idOf)) };
    }),
  ];
}

/** The settings in which a skeleton names another node by its key. */
const REFERENCES = ['server', 'group', 'page', 'ui', 'theme', 'scope'];

/** Config nodes: on no tab. */
const CONFIG_TYPES = new Set(['identities-config', 'ui-base', 'ui-theme', 'ui-page', 'ui-group']);

/** Every flow node's edit dialog runs (Done) before the export, so the export is what the dialog saves. */
const DIALOG_ROUND_TRIP = new Set(NODE_TYPES.filter((type) => type !== 'identities-config'));

async function format(flow: FlowJson[]): Promise<string> {
  const options = (await prettier.resolveConfig(path.join(EXAMPLES_DIR, 'x.json'))) ?? {};
  return prettier.format(JSON.stringify(flow, null, 4), { ...options, parser: 'json' });
}

/**
 * The editor's list of the node modules the tab uses (a global-config node with `modules`, as its
 * Export makes with the modules option), from which Node-RED's Import offers to install the missing
 * ones; its id made deterministic. It must name exactly ours and the example's `modules`.
 */
async function moduleList(page: Page, example: Example, tabId: string): Promise<FlowJson> {
  const exported = await page.evaluate((tab) => {
    const { RED } = globalThis as unknown as EditorGlobals;
    const set = RED.nodes.filterNodes({ z: tab });
    const withModules = RED.nodes.createExportableNodeSet as unknown as (
      nodes: EditorNode[],
      options: { includeModuleConfig: boolean },
    ) => FlowJson[];
    return withModules(set, { includeModuleConfig: true }).find((node) => node.type === 'global-config');
  }, tabId);
  const modules = Object.keys((exported?.modules as object | undefined) ?? {}).sort();
  const expected = [PACKAGE, ...(example.modules ?? [])].sort();
  if (!exported || modules.join() !== expected.join())
    throw new Error(`${example.title} uses the modules ${modules.join(', ')}, not ${expected.join(', ')}`);
  return { ...exported, id: id(example.title, 'global-config') };
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
        await importNodes(editor.page, flow).catch((err: unknown) => {
          throw new Error(`${example.title} does not import beside the examples before it: ${String(err)}`);
        });
        await editor.page.evaluate(
          (tab) => (globalThis as unknown as EditorGlobals).RED.workspaces.show(tab),
          tabId,
        );
        for (const node of flow.filter((n) => DIALOG_ROUND_TRIP.has(n.type))) {
          await closeEditDialog(editor.page, await openEditDialog(editor.page, node.id));
        }
        const flowJson = await exportTab(editor.page, tabId);
        if (example.modules) flowJson.push(await moduleList(editor.page, example, tabId));
        const text = await format(flowJson);
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
