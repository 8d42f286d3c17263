/**
 * Every node against every fault the emulator can inject: how many attempts reach the server, how
 * the message ends, that it ends exactly once (an output or a Catch; drops are covered by the
 * queue tests and the soak), that the server recorded nothing twice, and that neither the
 * password nor a token shows anywhere.
 */
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import { IdentitiesClient } from '../../client/client';
import { PUBLISH_SETTINGS } from '../../scripts/runtime';
import type { FaultRule } from '../../emulator/faults';
import type { Emulator } from '../../emulator/server';
import {
  assertErrorCode,
  collect,
  credentials,
  emulator,
  eventually,
  face,
  helper,
  helperNodes,
  load,
  loggedTexts,
  PASSWORD,
  send,
  serverNode,
  statuses,
  usersFileWithSecretPassword,
  type CaughtError,
  type FlowNode,
} from '../nodes/harness';
import { userDirectory } from '../outbox/support';

interface NodeCase {
  name: string;
  /** The emulator's operation id, whose request count is the attempts. */
  operation: string;
  /** Whether the client may repeat it after a transient failure. */
  idempotent: boolean;
  /** The status by which the server rejects an image (faces/*: 500): the same image is not sent again. */
  rejectedImageStatus?: number;
  node: { type: string } & Record<string, unknown>;
  /** The message; `row` makes its image and names unique, so no row sees another's records. */
  msg: (row: number) => Promise<NodeMessage>;
  /** What the server keeps of one success: counted before and after, it must grow by at most 1. */
  records?: (emu: Emulator) => number;
  /** The config node's outbox is on: a detection the server provably did not get is kept and delivered later. */
  outbox?: boolean;
}

/** Enrolled before the table runs, for the people node to read. */
let personId = '';
const image = (row: number) => face(row % 250, (row * 7) % 250, 90);
const detections = (emu: Emulator) => emu.store.detectionsWhere(() => true).length;
const imageInput = { image: 'payload', imageType: 'msg' };
/** Duplicate prevention on, as the editor saves it: a repeated publish is recorded once. */
const publishSettings = { ...PUBLISH_SETTINGS, detectorName: 'Door' };
const matchSettings = {
  ...imageInput,
  embeddings: 'embeddings',
  embeddingsType: 'msg',
  recognitionModel: '',
  recognitionModelType: 'str',
};

const NODES: NodeCase[] = [
  {
    name: 'publish (with response)',
    operation: 'publishWithResponse',
    idempotent: true,
    node: { ...publishSettings, mode: 'withResponse' },
    msg: async (row) => ({ payload: await image(row) }),
    records: detections,
  },
  {
    name: 'publish (fire and forget)',
    operation: 'publish',
    // The guide documents no duplicate prevention for publish: never sent again once it may have arrived.
    idempotent: false,
    node: { ...publishSettings, mode: 'fireAndForget' },
    msg: async (row) => ({ payload: await image(row) }),
    records: detections,
  },
  {
    name: 'publish (fire and forget, outbox on)',
    operation: 'publish',
    idempotent: false,
    node: { ...publishSettings, mode: 'fireAndForget' },
    msg: async (row) => ({ payload: await image(row) }),
    records: detections,
    outbox: true,
  },
  {
    name: 'recognize',
    operation: 'recognize',
    // It carries a detector and a time, so the server may record it: not sent again once it may have arrived.
    idempotent: false,
    node: { type: 'identities-recognize', ...matchSettings, detectorName: 'Door', detectorNameType: 'str' },
    msg: async (row) => ({ payload: await image(row) }),
  },
  {
    name: 'lookup',
    operation: 'lookup',
    idempotent: true,
    node: { type: 'identities-lookup', ...matchSettings },
    msg: async (row) => ({ payload: await image(row) }),
  },
  {
    name: 'enroll',
    operation: 'faceEnroll',
    idempotent: false,
    // The editor's defaults for the rest: msg.personId, msg.photoReferenceId, no forced enrollment.
    node: { type: 'identities-enroll', operation: 'faceEnroll', ...imageInput },
    msg: async (row) => ({ payload: await image(row) }),
    records: (emu) => emu.store.allPeople().length,
  },
  {
    name: 'compare',
    operation: 'faceCompare',
    idempotent: true,
    rejectedImageStatus: 500,
    node: {
      type: 'identities-compare',
      image1: 'payload',
      image1Type: 'msg',
      image2: 'other',
      image2Type: 'msg',
    },
    msg: async (row) => ({ payload: await image(row), other: await image(row + 1) }),
  },
  {
    name: 'detect',
    operation: 'faceDetect',
    idempotent: true,
    rejectedImageStatus: 500,
    node: { type: 'identities-detect', ...imageInput },
    msg: async (row) => ({ payload: await image(row) }),
  },
  {
    name: 'people (get person)',
    operation: 'getPerson',
    idempotent: true,
    node: { type: 'identities-people', operation: 'getPerson' },
    msg: () => Promise.resolve({ personId }),
  },
  {
    name: 'tags (create)',
    operation: 'createTag',
    idempotent: false,
    node: { type: 'identities-tags', operation: 'createTag' },
    msg: (row) => Promise.resolve({ payload: `Tag ${row}` }),
    records: (emu) => emu.store.allTags().length,
  },
];

interface FaultCase {
  name: string;
  rule: Omit<FaultRule, 'operations'>;
  /** Fails every attempt (else only the first). */
  always?: boolean;
  /** The error code when the message is not retried to success. */
  code: string;
  /** The server acted on the failed attempt. */
  processed: boolean;
  /** How long after the message ended the server may still act on it. */
  settleMs?: number;
  /** The server provably did not take the request (a gateway's 502/503/504): the outbox keeps it. */
  notTaken?: boolean;
}

const FAULTS: FaultCase[] = [
  {
    name: '503 once',
    rule: { count: 1, fault: { type: 'status', status: 503 } },
    code: 'SERVER_ERROR',
    processed: false,
    notTaken: true,
  },
  {
    name: '500 every time',
    rule: { fault: { type: 'status', status: 500 } },
    always: true,
    code: 'SERVER_ERROR',
    processed: false,
  },
  {
    name: '429 once, Retry-After 1',
    rule: { count: 1, fault: { type: 'status', status: 429, retryAfter: 1 } },
    code: 'RATE_LIMITED',
    processed: false,
  },
  {
    name: 'reset before the headers, not processed',
    rule: { count: 1, fault: { type: 'reset-before-headers' } },
    code: 'NETWORK',
    processed: false,
  },
  {
    name: 'reset before the headers, processed',
    rule: { count: 1, fault: { type: 'reset-before-headers', processed: true } },
    code: 'NETWORK',
    processed: true,
  },
  {
    name: 'reset after the headers',
    rule: { count: 1, fault: { type: 'reset-after-headers' } },
    code: 'NETWORK',
    processed: true,
  },
  {
    name: 'stall past the 1 s timeout',
    rule: { count: 1, fault: { type: 'stall', ms: 1500 } },
    code: 'TIMEOUT',
    // The emulator does not act on a request whose client left during the stall; waited out to be sure.
    processed: false,
    settleMs: 800,
  },
  {
    name: 'slow body',
    rule: { count: 1, fault: { type: 'slow-body', bytesPerSecond: 4000 } },
    code: '',
    processed: true,
  },
];

/** Detections in the config node's outbox (undefined when it is off). */
function outboxWaiting(): number | undefined {
  return (helper.getNode('server') as { outbox?: { waiting: number } } | null)?.outbox?.waiting;
}

const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/;
const MAX_RETRIES = 3;

/** An empty 200 is complete once its headers are out: a reset after them changes nothing. */
function answeredInFull(nodeCase: NodeCase, fault: FaultCase): boolean {
  return (
    fault.rule.fault.type === 'slow-body' ||
    (fault.rule.fault.type === 'reset-after-headers' && nodeCase.operation === 'publish')
  );
}

describe('every node against every fault', function () {
  let emu: Emulator;
  let row = 0;
  let userDir: ReturnType<typeof userDirectory>;

  before(async function () {
    userDir = userDirectory();
    emu = await emulator({ usersFile: usersFileWithSecretPassword() });
    const client = new IdentitiesClient({ baseUrl: emu.url, username: 'operator', password: PASSWORD });
    personId = (await client.faceEnroll({ faceImage: await face(251, 1, 1) })).personId;
    client.close();
  });

  after(async function () {
    await emu.close();
    userDir.release();
  });

  afterEach(async function () {
    emu.faults.clear();
    await helper.unload();
  });

  for (const nodeCase of NODES) {
    describe(nodeCase.name, function () {
      for (const fault of FAULTS) {
        const answered = answeredInFull(nodeCase, fault);
        const { fault: injected } = fault.rule;
        const rejected = injected.type === 'status' && injected.status === nodeCase.rejectedImageStatus;
        const retried = !answered && nodeCase.idempotent && !rejected;
        // Kept in the outbox, it ends with an output at once and is sent again once by the outbox.
        const kept = nodeCase.outbox === true && fault.notTaken === true;
        const attempts = answered ? 1 : retried || kept ? (fault.always ? 1 + MAX_RETRIES : 2) : 1;
        const succeeds = answered || kept || (retried && !fault.always);
        const ending = kept
          ? 'an output, kept and delivered'
          : succeeds
            ? 'an output'
            : `Catch ${fault.code}`;
        const title = `${fault.name}: ${attempts} attempt(s), ${ending}`;

        it(title, async function () {
          this.timeout(15_000);
          row++;
          const node: FlowNode = {
            id: 'node',
            server: 'server',
            ...nodeCase.node,
            wires: [['out1'], ['out2'], ['out3']],
          };
          await load(
            [
              serverNode(emu, { timeout: 1, outbox: nodeCase.outbox === true }),
              node,
              ...helperNodes('out1', 'out2', 'out3'),
            ],
            credentials('operator', PASSWORD),
          );
          await eventually(() => (emu.counts.authenticate ?? 0) > 0);
          // Until the outbox has opened, detections queue in it untried, behind any from before.
          if (nodeCase.outbox) await eventually(() => outboxWaiting() === 0);
          const msg = await nodeCase.msg(row);
          const outputs = ['out1', 'out2', 'out3'].flatMap((id) => [collect(id)]);
          const caught = collect('errors');
          const before = emu.counts[nodeCase.operation] ?? 0;
          const records = nodeCase.records?.(emu);
          emu.faults.add({ ...fault.rule, operations: [nodeCase.operation] });

          send('node', { ...msg, row });
          const endings = () => outputs.reduce((sum, list) => sum + list.length, 0) + caught.length;
          await eventually(() => endings() > 0, 12_000);
          // Long enough for a stray second ending (a duplicate, a late retry) to show.
          await new Promise((resolve) => setTimeout(resolve, fault.settleMs ?? 300));
          if (kept) await eventually(() => outboxWaiting() === 0);

          assert.equal(endings(), 1, 'the message ends exactly once');
          assert.equal((emu.counts[nodeCase.operation] ?? 0) - before, attempts, 'attempts');
          if (succeeds) {
            assert.equal(caught.length, 0, `unexpected error: ${JSON.stringify(caught[0]?.error)}`);
            assert.equal(outputs.flat()[0]?.row, row);
          } else {
            assert.equal(caught[0]?.row, row);
            assertErrorCode(caught[0]?.error as CaughtError, fault.code);
          }
          if (records !== undefined) {
            const added = (nodeCase.records?.(emu) ?? 0) - records;
            const expected = succeeds || fault.processed ? 1 : 0;
            assert.equal(added, expected, 'records the server kept');
          }
          const texts = [
            JSON.stringify(helper._redNodes.getFlows()),
            JSON.stringify(statuses('node')),
            JSON.stringify(caught),
            ...loggedTexts(),
          ];
          texts.push(JSON.stringify(outputs, (key, value: unknown) => (key === 'payload' ? '' : value)));
          for (const text of texts) {
            assert.ok(!text.includes(PASSWORD), `the password leaked: ${text.slice(0, 200)}`);
            assert.ok(!JWT.test(text), `a token leaked: ${text.slice(0, 200)}`);
          }
        });
      }
    });
  }
});
