/**
 * The examples as a user gets and runs them. Statically: no two examples share a node id (so they
 * import one after another without the editor's "nodes already exist" question), each brings one
 * server config node that its comment names, and a comment speaks of file in nodes only when its
 * flow has some. Then each example file, with only what its comment says to set (the server, the
 * files its file in nodes read, 04's msg.personId), runs on Node-RED (node-red-node-test-helper
 * with the core nodes the examples use and the built identities nodes) against the emulator: every
 * inject clicked, twice, and each run must reach its debug nodes with nothing on the example's
 * catch node. The examples run in their order on one emulator, as a user would try them: 09 finds
 * the person 04 put on the watch list, seen by 01's camera.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { IdentitiesClient } from '../../client/client';
import type { Emulator } from '../../emulator/server';
import { PACKAGE, ROOT } from '../../scripts/runtime';
import { emulator, eventually, face, helper, NODE_RED, NODE_TYPES, type FlowNode } from '../nodes/harness';

const EXAMPLES = path.join(ROOT, 'examples');
const FILES = readdirSync(EXAMPLES)
  .filter((file) => file.endsWith('.json'))
  .sort();

function readExample(file: string): FlowNode[] {
  return JSON.parse(readFileSync(path.join(EXAMPLES, file), 'utf8')) as FlowNode[];
}

/** The node modules an example lists besides ours (the editor's module list, for Import to offer). */
function extraModules(file: string): string[] {
  const list = readExample(file).find((node) => node.type === 'global-config')?.modules as object | undefined;
  return Object.keys(list ?? {})
    .filter((module) => module !== PACKAGE)
    .sort();
}

/**
 * The examples that need only core nodes and ours run here; those with other modules (10, 11) run
 * in a real Node-RED with those modules, as the npm start demo: test/e2e/dashboard.spec.ts.
 */
const CORE_ONLY = FILES.filter((file) => extraModules(file).length === 0);

type NodeInitializer = (RED: NodeAPI) => void;

/** The core nodes the examples use, from the runtime the specs run on, and the built identities nodes. */
const requireRuntime = createRequire(NODE_RED);
const MODULES: NodeInitializer[] = [
  ...[
    'common/20-inject.js',
    'common/21-debug.js',
    'common/90-comment.js',
    'function/10-switch.js',
    'function/15-change.js',
    'function/80-template.js',
    'sequence/17-split.js',
    'storage/10-file.js',
  ].map((file) => requireRuntime(`@node-red/nodes/core/${file}`) as NodeInitializer),
  ...NODE_TYPES.map(
    (type) => createRequire(__filename)(path.join(ROOT, 'dist', 'nodes', `${type}.js`)) as NodeInitializer,
  ),
];

/** The placeholder of 04's inject node, which its comment tells the user to replace. */
const PERSON_PLACEHOLDER = 'paste-a-person-id';
const PLACEHOLDER_PATH = /^\/path\/to\//;

interface Click {
  /** The inject node's name. */
  inject: string;
  /** The debug nodes (by name) each run must reach; the second run's when it ends elsewhere. */
  first: string[];
  second?: string[];
}

/** What clicking each example's inject nodes leads to, by the example's number. */
const RUNS: Record<string, Click[]> = {
  '01': [{ inject: 'camera snapshot', first: ['door log'] }],
  '02': [
    {
      inject: 'enroll badge 0042',
      first: ['enrolled person'],
      second: ['enrolled already: nothing to do'],
    },
  ],
  '03': [{ inject: 'compare', first: ['same person'] }],
  '04': [{ inject: 'person (set msg.personId)', first: ['the person now'] }],
  '05': [{ inject: 'look up', first: ['person'] }],
  '06': [{ inject: 'recognize', first: ['person'] }],
  '07': [{ inject: 'detect', first: ['faces'] }],
  '08': [
    { inject: 'list', first: ['tags'] },
    { inject: 'create, rename, delete', first: ['renamed tag', 'deleted'] },
  ],
  '09': [{ inject: 'watch list', first: ['people on the watch list', 'latest sightings'] }],
};

describe('the examples', function () {
  describe('as files', function () {
    it('share no node id, so that each imports beside the others without a question', function () {
      const owner = new Map<string, string>();
      for (const file of FILES) {
        for (const node of readExample(file)) {
          assert.equal(owner.get(node.id), undefined, `${file}: ${node.id} is in ${owner.get(node.id)} too`);
          owner.set(node.id, file);
        }
      }
    });

    it('are each run below', function () {
      assert.deepEqual(
        Object.keys(RUNS).sort(),
        CORE_ONLY.map((name) => name.slice(0, 2)),
      );
    });

    it('list the node modules they need besides the core and ours; the basic ones need none', function () {
      const needs = Object.fromEntries(FILES.map((file) => [file.slice(0, 2), extraModules(file)]));
      assert.deepEqual(needs, {
        ...Object.fromEntries(CORE_ONLY.map((file) => [file.slice(0, 2), []])),
        '10': ['node-red-contrib-image-output', 'node-red-node-annotate-image'],
        '11': [
          '@flowfuse/node-red-dashboard',
          'node-red-contrib-image-output',
          'node-red-node-annotate-image',
        ],
      });
      for (const file of CORE_ONLY.filter((name) => name < '10')) {
        const types = readExample(file).map((node) => node.type);
        assert.ok(!types.includes('global-config'), `${file} has no module list`);
      }
    });

    for (const file of FILES) {
      it(`${file}: one server config node, named in the comment, whose file notes are true`, function () {
        const flow = readExample(file);
        const servers = flow.filter((node) => node.type === 'identities-config');
        assert.equal(servers.length, 1);
        const [server] = servers;
        for (const node of flow.filter(
          (n) => NODE_TYPES.includes(n.type) && n.type !== 'identities-config',
        )) {
          assert.equal(node.server, server?.id, `${node.type} ${node.id} uses the example's server`);
        }
        const comments = flow.filter((node) => node.type === 'comment');
        assert.equal(comments.length, 1);
        const info = String(comments[0]?.info);
        assert.ok(info.includes(`**${String(server?.name)}**`), 'the comment names the server node');
        const fileNodes = flow.filter((node) => node.type === 'file in');
        assert.equal(
          info.includes('**file in**'),
          fileNodes.length > 0,
          'file in nodes are spoken of iff present',
        );
        // A file in node reads the path it was set to, or the one msg.filename names (11's camera, whose
        // change node lists the photos).
        const photos = flow.find((n) => n.name === 'the photos (set the paths)')?.rules as
          { to: string }[] | undefined;
        for (const node of fileNodes) {
          const paths =
            node.filenameType === 'msg' ? (JSON.parse(photos?.[0]?.to ?? '[]') as string[]) : [node.filename];
          assert.ok(paths.length > 0, `${String(node.name)} reads a file`);
          for (const file of paths) assert.match(String(file), PLACEHOLDER_PATH);
        }
      });
    }
  });

  describe('run twice against the emulator', function () {
    this.timeout(120_000);
    let emu: Emulator | undefined;
    let client: IdentitiesClient;
    let dir: string | undefined;
    let personId: string;
    /** Photos for the emulator's simple engine: one person's face, and another's for 02 to enroll. */
    let photo: string;
    let portrait: string;
    let document: string;

    before(async function () {
      emu = await emulator();
      client = new IdentitiesClient({ baseUrl: emu.url, username: 'admin', password: 'admin' });
      dir = mkdtempSync(path.join(tmpdir(), 'identities-examples-'));
      photo = path.join(dir, 'photo.jpg');
      portrait = path.join(dir, 'portrait.jpg');
      document = path.join(dir, 'scan.txt');
      writeFileSync(photo, await face(10));
      writeFileSync(portrait, await face(200));
      writeFileSync(document, 'an ID card scan');
      ({ personId } = await client.faceEnroll({ faceImage: readFileSync(photo) }));
    });

    after(async function () {
      client?.close();
      await emu?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    afterEach(async function () {
      await helper.unload();
    });

    /** The example with what its comment says to set: the server, the files, 04's person. */
    function asSetUp(flow: FlowNode[]): FlowNode[] {
      return flow.map((node) => {
        if (node.type === 'identities-config') return { ...node, baseUrl: emu?.url, allowHttp: true };
        if (node.type === 'file in') {
          const name = String(node.name);
          const file = name.startsWith('portrait')
            ? portrait
            : name.startsWith('document')
              ? document
              : photo;
          return { ...node, filename: file };
        }
        if (node.type === 'inject') {
          const props = node.props as { p: string; v: string }[];
          return {
            ...node,
            props: props.map((p) => (p.v === PERSON_PLACEHOLDER ? { ...p, v: personId } : p)),
          };
        }
        return node;
      });
    }

    /** Loads the example and records what reaches each debug node, by name. */
    async function load(file: string): Promise<{ flow: FlowNode[]; got: Map<string, NodeMessage[]> }> {
      const flow = asSetUp(readExample(file));
      const server = flow.find((node) => node.type === 'identities-config');
      await helper.load(MODULES, flow, { [String(server?.id)]: { username: 'admin', password: 'admin' } });
      const got = new Map<string, NodeMessage[]>();
      for (const node of flow.filter((n) => n.type === 'debug')) {
        const received: NodeMessage[] = [];
        got.set(String(node.name), received);
        nodeById(node.id).on('input', (msg: NodeMessage) => received.push(msg));
      }
      return { flow, got };
    }

    function nodeById(id: string): Node {
      const found = helper.getNode(id);
      if (!found) throw new Error(`node ${id} did not start`);
      return found;
    }

    /** Clicks the inject node and waits until every debug node in `expected` got a message, or an error came. */
    async function click(
      flow: FlowNode[],
      got: Map<string, NodeMessage[]>,
      name: string,
      expected: string[],
    ): Promise<void> {
      for (const messages of got.values()) messages.length = 0;
      const inject = flow.find((node) => node.type === 'inject' && node.name === name);
      assert.ok(inject, `no inject node ${name}`);
      nodeById(inject.id).receive({});
      const errors = got.get('error') ?? [];
      const reached = (debug: string) => (got.get(debug) ?? []).length > 0;
      await eventually(() => errors.length > 0 || expected.every(reached), 20_000).catch(() => {
        throw new Error(`${name}: nothing reached ${expected.filter((d) => !reached(d)).join(', ')}`);
      });
      assert.deepEqual(
        errors.map((msg) => (msg.error as { message: string }).message),
        [],
        `${name}: errors on the catch node`,
      );
    }

    /** What each example leaves behind after its two runs, where a second run could have added or failed. */
    const AFTER_BOTH: Record<string, (got: Map<string, NodeMessage[]>) => Promise<void>> = {
      async '04'() {
        const person = await client.getPerson(personId);
        const smiths = person.aliases?.filter((a) => a.firstName === 'John' && a.lastName === 'Smith');
        assert.equal(smiths?.length, 1, 'one alias John Smith');
        const watchList = await client.listTags({ tagName: 'Watch list' });
        assert.equal(watchList.length, 1, 'one tag Watch list');
        assert.equal(person.tags?.filter((t) => t.tagId === watchList[0]?.tagId).length, 1, 'put on once');
        assert.equal(person.notes?.filter((n) => n.summary === 'Loading dock').length, 1, 'one note');
      },
      async '08'() {
        const left = (await client.listTags()).filter((tag) => tag.tagName.startsWith('Contractor'));
        assert.deepEqual(left, [], 'no Contractor tag left');
      },
      async '09'(got) {
        const [sightings] = got.get('latest sightings') ?? [];
        const payload = sightings?.payload as { personId: string; seen: { camera: string }[] };
        assert.equal(payload.personId, personId);
        assert.ok(
          payload.seen.some((s) => s.camera === 'FrontDoorCam'),
          "01's camera saw them",
        );
      },
    };

    for (const file of CORE_ONLY) {
      it(`${file}: the second run works as the first`, async function () {
        const { flow, got } = await load(file);
        for (const run of ['first', 'second'] as const) {
          for (const step of RUNS[file.slice(0, 2)] ?? []) {
            await click(flow, got, step.inject, (run === 'second' && step.second) || step.first);
          }
        }
        await (AFTER_BOTH[file.slice(0, 2)] ?? (async () => undefined))(got);
      });
    }
  });
});
