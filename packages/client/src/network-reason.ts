/**
 * Why a request did not reach the server, as the network said it (`ECONNREFUSED: connect
 * ECONNREFUSED 127.0.0.1:8088`), not fetch's own "fetch failed": the deepest cause's code
 * and message.
 */
export function networkReason(e: unknown): string {
  let deepest: unknown = e;
  while ((deepest as { cause?: unknown } | undefined)?.cause instanceof Error)
    deepest = (deepest as Error).cause;
  const message = deepest instanceof Error ? deepest.message : String(deepest);
  const code = (deepest as { code?: unknown } | undefined)?.code;
  // A failed connection to every address of a name (AggregateError) has a code but no message.
  if (typeof code !== 'string' || message.includes(code)) return message || 'no answer';
  return message ? `${code}: ${message}` : code;
}
