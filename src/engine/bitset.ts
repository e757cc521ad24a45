/**
 * Permission sets as bitsets: bit i stands for the catalog's i-th permission. A set is a Uint32Array
 * of `words` words; every set of one compiled catalog has the same length.
 */
export type Bits = Uint32Array;

export function emptyBits(words: number): Bits {
  return new Uint32Array(words);
}

export function hasBit(bits: Bits, bit: number): boolean {
  return ((bits[bit >>> 5]! >>> (bit & 31)) & 1) === 1;
}

export function setBit(bits: Bits, bit: number): void {
  bits[bit >>> 5]! |= 1 << (bit & 31);
}

export function clearBit(bits: Bits, bit: number): void {
  bits[bit >>> 5]! &= ~(1 << (bit & 31));
}

/** target |= source */
export function orInto(target: Bits, source: Bits): void {
  for (let i = 0; i < target.length; i++) target[i]! |= source[i]!;
}

/** target &= mask */
export function andInto(target: Bits, mask: Bits): void {
  for (let i = 0; i < target.length; i++) target[i]! &= mask[i]!;
}

/** Whether every bit of `mask` is set in `bits`. */
export function hasAll(bits: Bits, mask: Bits): boolean {
  // `&` yields a signed int32; `>>> 0` makes it unsigned like the array's words (bit 31 set).
  for (let i = 0; i < mask.length; i++) if ((bits[i]! & mask[i]!) >>> 0 !== mask[i]) return false;
  return true;
}

export function isEmpty(bits: Bits): boolean {
  for (let i = 0; i < bits.length; i++) if (bits[i] !== 0) return false;
  return true;
}

export function bitsEqual(a: Bits, b: Bits): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The indexes of the set bits, ascending. */
export function bitIndexes(bits: Bits): number[] {
  const out: number[] = [];
  for (let w = 0; w < bits.length; w++) {
    let word = bits[w]!;
    while (word !== 0) {
      const low = word & -word;
      out.push(w * 32 + (31 - Math.clz32(low)));
      word ^= low;
    }
  }
  return out;
}
