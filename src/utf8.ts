/**
 * UTF-8 byte length of a string without allocating (TextEncoder is not in every SSR
 * runtime). A surrogate pair is 4 bytes; a lone surrogate 3, as TextEncoder encodes U+FFFD.
 * @internal
 */
export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
