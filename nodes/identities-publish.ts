/**
 * identities-publish: sends a camera image to faceEdge publishWithResponse and routes the detected
 * faces, or to publish (fire-and-forget) when the flow does not need the result.
 */
import type { NodeAPI, NodeMessage, NodeMessageInFlow, NodeMessageParts } from 'node-red';
import {
  DEFAULT_MAX_IMAGE_BYTES,
  type CallOptions,
  type DetectedFace,
  type FaceEdgePublishResponse,
  type IdentitiesClient,
  type PublishOptions,
  type PublishRequest,
} from '../client/client';
import { toImageBuffer } from '../client/images';
import { annotation, personName } from './lib/faces';
import {
  registerFlowNode,
  serveMessages,
  type Delivery,
  type FlowNodeDef,
  type OutputMessages,
} from './lib/flow-node';
import { shared, translate } from './lib/i18n';
import { Inputs, type TypedSettings } from './lib/inputs';
import { notTaken, outboxOf, utcSeconds, type OutboxHolder } from './lib/outbox-delivery';
import type { OutboxEntry } from './lib/outbox';
import { findServer } from './lib/server';
import { readSighting, type SightingSettings } from './lib/sighting';

interface PublishDef
  extends
    FlowNodeDef,
    SightingSettings,
    TypedSettings<
      | 'image'
      | 'largestFaceOnly'
      | 'allowDoubleDetection'
      | 'includePerson'
      | 'includeNames'
      | 'includeAddresses'
      | 'includeTags'
      | 'includeFields'
    > {
  /** 'withResponse' (publishWithResponse) or 'fireAndForget' (publish). */
  mode: string;
  /** 'all': one message with every face; 'each': one message per face. */
  split: string;
  /** Three outputs (matched, unknown, no face) instead of one. */
  separateOutputs: boolean;
}

/** msg.parts as the core split node writes it, so a join node can put the faces back together. */
interface SplitParts extends NodeMessageParts {
  type: 'array';
  len: number;
  parts?: NodeMessageParts;
}

const MATCHED = 0;
const UNKNOWN = 1;
const NO_FACE = 2;

/**
 * A detection as the outbox keeps it: the fields the node hands the client. The image was checked
 * by the client on the first attempt, or is checked here when it joins the queue untried. An empty
 * zone stays empty: the client fills in this host's zone when it sends the entry, as it would have.
 */
function outboxEntry(sent: PublishRequest, detectTimeUtc: string): OutboxEntry {
  return {
    expanded: toImageBuffer('publish', 'expanded', sent.expanded, { maxBytes: DEFAULT_MAX_IMAGE_BYTES }),
    detectorName: sent.detectorName,
    ianaTimeZone: sent.ianaTimeZone ?? '',
    detectTimeUtc,
  };
}

export = function (RED: NodeAPI) {
  registerFlowNode<PublishDef>(RED, 'identities-publish', (node, def) => {
    const fireAndForget = def.mode === 'fireAndForget';
    const perFace = def.split === 'each';
    const routed = def.separateOutputs === true && !fireAndForget;
    const outbox = fireAndForget ? outboxOf(findServer(RED, def.server)) : undefined;
    const publishedText = translate(RED, 'identities-publish.status.published');
    const keptText = translate(RED, 'identities-publish.status.kept');

    /**
     * Fire-and-forget with the config node's outbox: while it holds detections, a new one joins the
     * end of its queue untried (so they reach the server in order); else it is sent, and kept when
     * the server provably did not get it. Its time is fixed first: a detection sent from the outbox
     * keeps the time of its first attempt. Resolves with the status to show.
     */
    async function publishOrKeep(
      holder: OutboxHolder,
      client: IdentitiesClient,
      call: CallOptions,
      sent: PublishRequest,
    ): Promise<string> {
      const time = sent.detectTimeUtc ?? new Date();
      const detectTimeUtc = typeof time === 'string' ? time : utcSeconds(time);
      if (holder.waiting > 0) {
        await holder.keep(outboxEntry(sent, detectTimeUtc), false);
        return keptText;
      }
      try {
        await client.publish({ ...sent, detectTimeUtc }, call);
        return publishedText;
      } catch (err) {
        if (!notTaken(err)) throw err;
        // Not stored (a full or read-only disk): the message fails as it would have without the outbox.
        await holder.keep(outboxEntry(sent, detectTimeUtc), true).catch(() => Promise.reject(err));
        return keptText;
      }
    }

    /** publish (fire-and-forget) has none of publishWithResponse's switches: they are not even read. */
    async function request(inputs: Inputs): Promise<PublishRequest> {
      const sent = { expanded: await inputs.image('image', 'expanded'), ...(await readSighting(inputs)) };
      if (fireAndForget) return sent;
      const flag = (name: keyof PublishOptions) => inputs.flag(name, name);
      return {
        ...sent,
        largestFaceOnly: await flag('largestFaceOnly'),
        allowDoubleDetection: await flag('allowDoubleDetection'),
        // Separate outputs tell matched from unknown faces by the person record, and label them by name.
        includePerson: routed || (await flag('includePerson')),
        includeNames: routed || (await flag('includeNames')),
        includeAddresses: await flag('includeAddresses'),
        includeTags: await flag('includeTags'),
        includeFields: await flag('includeFields'),
      };
    }

    function label(face: DetectedFace, includePerson: boolean): string | undefined {
      if (face.person) return personName(face.person);
      return includePerson ? translate(RED, shared('label.unknown')) : undefined;
    }

    function outputOf(faces: DetectedFace[]): number {
      if (faces.length === 0) return NO_FACE;
      return faces.some((face) => face.person) ? MATCHED : UNKNOWN;
    }

    function status(faces: DetectedFace[], includePerson: boolean): string {
      if (faces.length === 0) return translate(RED, shared('status.noFace'));
      const [only] = faces;
      if (faces.length === 1 && only?.person) return personName(only.person);
      const matched = faces.filter((face) => face.person).length;
      return includePerson
        ? translate(RED, 'identities-publish.status.facesMatched', { count: faces.length, matched })
        : translate(RED, 'identities-publish.status.faces', { count: faces.length });
    }

    /** Messages in the layout the dialog chose: one output, or matched / unknown / no face. */
    function route(messages: { msg: NodeMessage; output: number }[]): OutputMessages {
      if (!routed) return [messages.map(({ msg }) => msg)];
      return [MATCHED, UNKNOWN, NO_FACE].map((output) => {
        const list = messages.filter((entry) => entry.output === output).map((entry) => entry.msg);
        return list.length ? list : null;
      });
    }

    function deliver(
      msg: NodeMessageInFlow,
      response: FaceEdgePublishResponse,
      sent: PublishRequest,
    ): Delivery {
      const faces = response.detectedFaces;
      const includePerson = sent.includePerson === true;
      msg.image = sent.expanded;
      const result = { outputs: [] as OutputMessages, status: status(faces, includePerson) };
      if (!perFace || faces.length === 0) {
        msg.payload = response;
        msg.annotations = faces.map((face) => annotation(face.boundingBox, label(face, includePerson)));
        result.outputs = perFace && !routed ? [null] : route([{ msg, output: outputOf(faces) }]);
        return result;
      }
      const parts: SplitParts = {
        id: RED.util.generateId(),
        index: 0,
        count: faces.length,
        type: 'array',
        len: 1,
      };
      if (msg.parts) parts.parts = msg.parts;
      result.outputs = route(
        faces.map((face, index) => ({
          msg: {
            ...msg,
            payload: face,
            annotations: [annotation(face.boundingBox, label(face, includePerson))],
            parts: { ...parts, index },
          },
          output: face.person ? MATCHED : UNKNOWN,
        })),
      );
      return result;
    }

    serveMessages(RED, node, def, async (msg) => {
      const inputs = new Inputs(RED, node, msg, fireAndForget ? 'publish' : 'publishWithResponse', def);
      const sent = await request(inputs);
      return inputs.explained(async (client, call) => {
        if (outbox) return { outputs: [msg], status: await publishOrKeep(outbox, client, call, sent) };
        if (fireAndForget) {
          await client.publish(sent, call);
          return { outputs: [msg], status: publishedText };
        }
        return deliver(msg, await client.publishWithResponse(sent, call), sent);
      });
    });
  });
};
