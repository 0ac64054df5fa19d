/** Longest string a URL-like dimension may hold in an enriched event. */
export const DIMENSION_MAX = 2048;

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/g;

export const stripControlChars = (value: string) => value.replace(CONTROL_CHARS, '');

/** Cuts to `max` UTF-16 units without leaving half of a surrogate pair at the end. */
export function truncate(value: string, max = DIMENSION_MAX): string {
  if (value.length <= max) return value;
  const cut = value.slice(0, max);
  const lastUnit = cut.charCodeAt(cut.length - 1);
  return lastUnit >= 0xd800 && lastUnit <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** Host without a trailing dot and without a leading `www.`, lower-cased. */
export const bareHost = (host: string) =>
  host
    .trim()
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^www\./, '');
