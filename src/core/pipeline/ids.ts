// Record ids are derived from their place in the iteration, so a resumed run names the same work the
// same way and never writes a record twice. Request seeds are derived the same way, so a resumed run
// asks a seeded server the very same question.

export const responseId = (promptId: string, index: number): string => `${promptId}:r${index}`;
export const judgementId = (responseId: string, index: number): string => `${responseId}:j${index}`;
export const battleId = (responseId: string, firstIndex: number, secondIndex: number): string =>
  `${responseId}:m${firstIndex}-${secondIndex}`;

/** FNV-1a, 32 bits: tiny, stable across platforms and versions. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function deriveSeed(base: number | undefined, id: string): number | undefined {
  if (base === undefined) return undefined;
  return (base + fnv1a(id)) % 0x7fffffff;
}
