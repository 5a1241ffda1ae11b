/** A Server-Sent Events parser over a fetch body (the `text/event-stream` format of the HTML standard). */

export interface SseMessage<T = unknown> {
  /** The last event id: per the standard it carries over from earlier events when an event has none. */
  id: string | undefined;
  /** The `event` field; `message` when absent. */
  event: string;
  /** `data`, parsed as JSON (the raw text when it is not JSON). */
  data: T;
}

/** `onChunk` is told of every chunk that arrives, keep-alive comments included. */
export async function* parseSse<T>(
  body: ReadableStream<Uint8Array>,
  onChunk?: () => void,
): AsyncGenerator<SseMessage<T>> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let id: string | undefined;
  let event = '';
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onChunk?.();
      buffer += value;
      let nl = buffer.search(/\r\n|\r|\n/);
      while (nl >= 0) {
        // A CR at the end may be the first half of a CRLF split across chunks: wait for more.
        if (buffer[nl] === '\r' && nl === buffer.length - 1) break;
        const line = buffer.slice(0, nl);
        const skip = buffer.startsWith('\r\n', nl) ? 2 : 1;
        buffer = buffer.slice(nl + skip);
        nl = buffer.search(/\r\n|\r|\n/);
        if (line === '') {
          if (data.length > 0) {
            const text = data.join('\n');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON: hand over the text
            }
            yield { id, event: event || 'message', data: parsed as T };
          }
          // The id persists across events (it is the "last event id"); event and data do not.
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'data') data.push(val);
        else if (field === 'event') event = val;
        else if (field === 'id' && !val.includes('\0')) id = val;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
