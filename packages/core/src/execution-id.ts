import { randomFillSync } from 'node:crypto';

let lastMs = -1;
let counter = 0;
/** The millisecond whose time part `id` holds now. */
let prefixMs = -1;

/** The id is written here, a byte a character, then read as one string. */
const id = Buffer.alloc(36);
/** Random bytes, 8 an id, refilled when used up (one call for 512 ids, not one per id). */
const pool = Buffer.alloc(8 * 512);
let poolAt = pool.length;
/** Lowercase hex digits as character codes. */
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A new execution id: a UUID version 7 (RFC 9562), the creation time in its first 48 bits.
 * Ids made later sort later, so a durable store appends each new execution, and its steps and
 * journal entries, at the end of its indexes instead of at random places in them: one page
 * written per index and commit rather than one per execution (with random ids, a commit of
 * 100 executions rewrote hundreds of pages). The 62 random bits after the variant keep ids
 * unique across processes. `now` is the engine's clock (epoch ms); ids made in the same
 * millisecond count up in the 12 bits after the version, so they sort in the order they were
 * made.
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
  // The time part changes once a millisecond: written then, not for every id.
  if (ms !== prefixMs) {
    prefixMs = ms;
    writeHex(Math.floor(ms / 0x10000), 0, 8);
    id[8] = DASH;
    writeHex(ms % 0x10000, 9, 4);
    id[13] = DASH;
    id[14] = SEVEN;
  }
  writeHex(counter, 15, 3);
  id[18] = DASH;
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  // 16 random nibbles: the first gives the variant (10xx) its two random bits, the rest are digits.
  const b = poolAt;
  poolAt += 8;
  id[19] = HEX[8 | ((pool[b]! >> 4) & 3)]!;
  let at = 20;
  for (let i = 0; i < 8; i++) {
    const byte = pool[b + i]!;
    if (i > 0) {
      id[at++] = HEX[byte >> 4]!;
      if (at === 23) id[at++] = DASH;
    }
    id[at++] = HEX[byte & 15]!;
    if (at === 23) id[at++] = DASH;
  }
  // One flat string of 36 characters, made in one call: no pieces for a store to keep.
  return id.toString('latin1', 0, 36);
}

const DASH = 0x2d;
const SEVEN = 0x37;

/** The low `digits` hex digits of `n` (zero-padded) at `at`. */
function writeHex(n: number, at: number, digits: number): void {
  for (let i = at + digits - 1; i >= at; i--) {
    id[i] = HEX[n % 16]!;
    n = Math.floor(n / 16);
  }
}
