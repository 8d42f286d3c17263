/**
 * Faces as flows use them: a label per face and msg.annotations in the format of
 * node-red-node-annotate-image (`{type:'rect', bbox:[x,y,w,h], label}`), so users draw boxes on the
 * image without a native library. The image itself stays in msg.image, because msg.payload
 * becomes the result.
 */
import type { DetectedFace } from '../../client/client';

export type Box = DetectedFace['boundingBox'];

export interface Annotation {
  type: 'rect';
  bbox: [number, number, number, number];
  label?: string;
}

export function annotation(box: Box, label: string | undefined): Annotation {
  const rect: Annotation = { type: 'rect', bbox: [box.x, box.y, box.width, box.height] };
  if (label) rect.label = label;
  return rect;
}

interface NamedPerson {
  personId: string;
  friendlyName?: string | null;
  aliases?: { firstName: string | null; lastName: string | null }[];
  firstName?: string | null;
  lastName?: string | null;
}

function fullName(first: string | null | undefined, last: string | null | undefined): string {
  return [first, last].filter((part) => part && part.trim()).join(' ');
}

/** The best human name the server gave for a person; its id when it gave none. */
export function personName(person: NamedPerson): string {
  const alias = person.aliases?.[0];
  return (
    person.friendlyName?.trim() ||
    fullName(person.firstName, person.lastName) ||
    (alias && fullName(alias.firstName, alias.lastName)) ||
    person.personId
  );
}
