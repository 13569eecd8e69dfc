/** HTTP dates (RFC 9110 §5.6.7): IMF-fixdate out; IMF-fixdate, RFC 850 and asctime in. */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number): string => (n < 10 ? '0' + n : String(n));

/** `Sun, 06 Nov 1994 08:49:37 GMT` for milliseconds since the epoch. */
export function formatHttpDate(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} GMT`;
}

/** Milliseconds since the epoch, or undefined for a date in none of the three formats. */
export function parseHttpDate(text: string): number | undefined {
  const t = text.trim();
  let m = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(t);
  let year: number;
  if (m !== null) year = Number(m[3]);
  else {
    m = /^[A-Za-z]+, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(t);
    if (m !== null) {
      // RFC 9110 §5.6.7 wants the most recent past year with those digits; 70-99 → 19xx is that rule for this century.
      year = Number(m[3]) >= 70 ? 1900 + Number(m[3]) : 2000 + Number(m[3]);
    } else {
      const a = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/.exec(t);
      if (a === null) return undefined;
      m = [a[0], a[2].trim(), a[1], a[6], a[3], a[4], a[5]] as unknown as RegExpExecArray;
      year = Number(a[6]);
    }
  }
  const month = MONTHS.indexOf(m[2]);
  if (month < 0) return undefined;
  const ms = Date.UTC(year, month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : ms;
}
