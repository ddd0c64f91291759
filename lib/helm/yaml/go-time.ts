/**
 * Times as Helm writes them: Go's time.Time JSON form, RFC 3339 with up to nine fractional digits and
 * trailing zeros dropped (time.RFC3339Nano), `Z` for UTC.
 */

/** A JavaScript date (millisecond precision) in Go's RFC3339Nano form, in UTC. */
export function formatHelmTime(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid date');
  const iso = date.toISOString();
  const [seconds = iso, fraction = ''] = iso.slice(0, -1).split('.');
  const trimmed = fraction.replace(/0+$/, '');
  return `${seconds}${trimmed === '' ? '' : `.${trimmed}`}Z`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[-+](\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Reads a time as Go's time.Time.UnmarshalJSON does (strict RFC 3339) and returns how Go would write
 * it back (MarshalJSON): the same instant and offset, fraction without trailing zeros, `Z` for a zero
 * offset. Undefined when Go would reject it.
 */
export function normalizeGoTime(text: string): string | undefined {
  const match = RFC3339.exec(text);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second, fraction = '', zone, zoneHour, zoneMinute] = match;
  const monthNumber = Number(month);
  const dayNumber = Number(day);
  const leap = Number(year) % 4 === 0 && (Number(year) % 100 !== 0 || Number(year) % 400 === 0);
  const days = monthNumber === 2 && leap ? 29 : (DAYS_IN_MONTH[monthNumber - 1] ?? 0);
  if (monthNumber < 1 || monthNumber > 12 || dayNumber < 1 || dayNumber > days) return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  if (zoneHour !== undefined && (Number(zoneHour) > 23 || Number(zoneMinute) > 59)) return undefined;
  const trimmed = fraction.replace(/0+$/, '');
  const offset = zone === 'Z' || /^[-+]00:00$/.test(zone ?? '') ? 'Z' : zone;
  return `${year}-${month}-${day}T${hour}:${minute}:${second}${trimmed === '' ? '' : `.${trimmed}`}${offset}`;
}

/** Go's zero time.Time, which Helm writes for a missing `generated`. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';
