import { randomUUID } from 'node:crypto';

let lastMs = -1;
let counter = 0;

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
  const time = ms.toString(16).padStart(12, '0').slice(-12);
  // The random parts of a v4 UUID (its variant bits included), the time and counter in front.
  const r = randomUUID();
  return `${time.slice(0, 8)}-${time.slice(8)}-7${counter.toString(16).padStart(3, '0')}${r.slice(18)}`;
}
