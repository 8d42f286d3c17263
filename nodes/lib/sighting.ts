/**
 * Where and when a face was seen, the three fields every face edge operation sends (publish,
 * publishWithResponse, recognize): the same node properties and the same checks in every node.
 */
import type { Sighting } from '../../client/client';
import type { Inputs, TypedSettings } from './inputs';

export type SightingSettings = TypedSettings<'detectorName' | 'ianaTimeZone' | 'detectTime'>;

/**
 * Zones already found valid: building an Intl.DateTimeFormat to check one costs 0.1-0.5 ms, and a
 * flow sends the same zone with every message. Bounded, like the translations in lib/i18n.ts.
 */
const knownZones = new Set<string>();
const MAX_KNOWN_ZONES = 100;

function isTimeZone(zone: string): boolean {
  if (knownZones.has(zone)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    return false;
  }
  if (knownZones.size < MAX_KNOWN_ZONES) knownZones.add(zone);
  return true;
}

/** The detector's name (required), its time zone and the detection time (the client's defaults when unset). */
export async function readSighting(inputs: Inputs): Promise<Sighting> {
  const ianaTimeZone = await inputs.optionalText('ianaTimeZone', 'ianaTimeZone');
  if (ianaTimeZone && !isTimeZone(ianaTimeZone)) {
    inputs.invalid('notTimeZone', 'ianaTimeZone', 'ianaTimeZone', { found: ianaTimeZone.slice(0, 60) });
  }
  return {
    detectorName: await inputs.text('detectorName', 'detectorName'),
    ianaTimeZone,
    detectTimeUtc: await inputs.time('detectTime', 'detectTimeUtc'),
  };
}
