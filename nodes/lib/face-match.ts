/**
 * recognize and lookup ask the same question (who is this cropped, aligned face?) through two
 * transports, JSON and multipart, and answer it the same way: the person on output 1, or
 * "no face or no match" (the API's 404, a result and not an error) on output 2.
 */
import type { Node, NodeAPI } from 'node-red';
import type { EdgePerson } from '../../client/client';
import { personName } from './faces';
import { registerFlowNode, serveMessages, type FlowNodeDef } from './flow-node';
import { shared, translate } from './i18n';
import { Inputs, type TypedSettings } from './inputs';
import { readSighting, type SightingSettings } from './sighting';

/** recognize's node also has the sighting properties (detector, zone, time); lookup's has not. */
type FaceMatchDef = FlowNodeDef &
  TypedSettings<'image' | 'embeddings' | 'recognitionModel'> &
  Partial<SightingSettings>;

/** Precomputed embeddings: finite numbers (a Float32Array is taken too). */
function embeddingNumbers(inputs: Inputs, value: unknown, errorKey: string): number[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const numbers: unknown = value instanceof Float32Array ? Array.from(value) : value;
  if (Array.isArray(numbers) && numbers.every((n) => typeof n === 'number' && Number.isFinite(n))) {
    return numbers as number[];
  }
  return inputs.invalid(errorKey, 'embeddings', 'embeddings');
}

function serveFaceMatch(
  RED: NodeAPI,
  node: Node,
  def: FaceMatchDef,
  operation: 'recognize' | 'lookup',
): void {
  serveMessages(RED, node, def, async (msg) => {
    const inputs = new Inputs(RED, node, msg, operation, def);
    const croppedAligned = await inputs.image('image', 'croppedAligned');
    const raw = await inputs.value('embeddings', 'embeddings');
    // lookup uploads the embeddings as a file, so it also takes them as raw float32 bytes.
    const blob = operation === 'lookup' && Buffer.isBuffer(raw) ? raw : undefined;
    const numbers = blob
      ? undefined
      : embeddingNumbers(inputs, raw, operation === 'lookup' ? 'notEmbeddingsOrBuffer' : 'notEmbeddings');
    const recognitionModel = await inputs.optionalText('recognitionModel', 'recognitionModel');
    const sighting = operation === 'recognize' ? await readSighting(inputs) : undefined;
    return inputs.explained(async (client, call) => {
      const person: EdgePerson | null = sighting
        ? await client.recognize({ ...sighting, croppedAligned, embeddings: numbers, recognitionModel }, call)
        : await client.lookup({ croppedAligned, embeddings: blob ?? numbers, recognitionModel }, call);
      msg.image = croppedAligned;
      msg.payload = person;
      if (!person) return { outputs: [null, msg], status: translate(RED, shared('status.noMatch')) };
      msg.personId = person.personId;
      return { outputs: [msg, null], status: personName(person) };
    });
  });
}

export function registerFaceMatchNode(RED: NodeAPI, type: string, operation: 'recognize' | 'lookup'): void {
  registerFlowNode<FaceMatchDef>(RED, type, (node, def) => serveFaceMatch(RED, node, def, operation));
}
