import { randomUUID } from 'node:crypto';

let lastMs = -1;
let counter = 0;
/** `<time high>-<time low>-7` of the millisecond `prefixMs`. */
let prefixMs = -1;
let prefix = '';

/**
 * A new execution id: a UUID version 7 (RFC 9562), the creation time in its first 48 bits.
 * Ids made later sort later, so a durable store appends each new execution, and its steps and
 * journal entries, at the end of its indexes instead of at random places in them: one page
 * written per index and commit rather than one per execution (with random ids, a commit of
 * 100 executions rewrote hundreds of pages). 74 random bits keep ids unique across processes.
 * `now` is the engine's clock (epoch ms); ids made in the same millisecond count up in the
 * 12 bits after the version, so they sort in the order they were made.
 */
export function newExecutionId(now: number): string {
  let ms = Math.max(0, Math.floor(now));
  if (ms <= lastMs) {
    // Same (or an earlier: clocks step back) millisecond: count up; past 4,095, borrow the next one.
    ms = lastMs;
    if (++counter > 0xfff) {
      ms = ++lastMs;
      counter = 0;
    }
  } else {
    lastMs = ms;
    counter = 0;
  }
  // The time part changes once a millisecond: made then, not for every id.
  if (ms !== prefixMs) {
    prefixMs = ms;
    prefix = `${hex(Math.floor(ms / 0x10000), 8)}-${hex(ms % 0x10000, 4)}-7`;
  }
  // The random parts of a v4 UUID (its variant bits included), the time and counter in front.
  // One flat string (join), not a tree of concatenations: a store that keeps the id keeps
  // one object, not five.
  return [prefix, hex(counter, 3), randomUUID().slice(18)].join('');
}

/** `n` in lowercase hex, zero-padded (or cut, keeping the low digits) to `digits`. */
function hex(n: number, digits: number): string {
  const s = n.toString(16);
  return s.length === digits ? s : s.length > digits ? s.slice(-digits) : s.padStart(digits, '0');
}
