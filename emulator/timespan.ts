/**
 * Tag expiry periods as the guide writes them (`days.hh:mm:ss`, e.g. `30.00:00:00`) and as .NET's
 * TimeSpan prints them: `[d.]hh:mm:ss[.fffffff]`, the days left out when there are none, seven
 * fraction digits when there is a fraction. `00:00:00` means no expiry.
 */

const FORMAT = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/;
/** TimeSpan.MaxValue is 10675199.02:48:05.4775807. */
const MAX_DAYS = 10_675_199;
const TICKS_PER_MS = 10_000;

export interface Period {
  /** The period as .NET prints it. */
  text: string;
  /** Its length in milliseconds (fractions of a millisecond kept). */
  ms: number;
}

/**
 * A period, or why it is not one. Hours must be 0-23 and minutes and seconds 0-59, as TimeSpan's
 * constant format demands; a negative period is refused (inferred: an expiry before the tag was
 * added means nothing, and the guide shows none).
 */
export function parsePeriod(text: string): Period | string {
  const found = FORMAT.exec(text);
  if (!found) return `"${text}" is not a period of the form days.hh:mm:ss or hh:mm:ss`;
  const [days, hours, minutes, seconds] = found.slice(1, 5).map((part) => Number(part ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  const fraction = (found[5] ?? '').padEnd(7, '0');
  if (hours > 23 || minutes > 59 || seconds > 59)
    return `"${text}" has hours over 23 or minutes or seconds over 59`;
  if (days > MAX_DAYS) return `"${text}" is longer than a TimeSpan can hold`;
  const wholeSeconds = ((days * 24 + hours) * 60 + minutes) * 60 + seconds;
  const two = (n: number) => String(n).padStart(2, '0');
  return {
    text:
      (days > 0 ? `${days}.` : '') +
      `${two(hours)}:${two(minutes)}:${two(seconds)}` +
      (Number(fraction) > 0 ? `.${fraction}` : ''),
    ms: wholeSeconds * 1000 + Number(fraction) / TICKS_PER_MS,
  };
}

export const NO_EXPIRY = '00:00:00';
