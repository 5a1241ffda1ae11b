/** Streams hosted by `orchestr8 serve --stream` (loaded lazily by serve). */
import type { Engine } from '@orchestr8/core';
import { formatDiagnostic } from '@orchestr8/schema';
import {
  type CompiledStream,
  createMemoryTransport,
  createNatsTransport,
  createStreamMetrics,
  createStreamRouter,
  createStreamService,
  type StreamService,
} from '@orchestr8/streams';
import { errorLine, loadWithCrews, resolverFor } from './stream-io.js';

/**
 * Streams hosted by `orchestr8 serve --stream`: a processor per document on serve's engine
 * (crews as durable executions in its store), on NATS JetStream with `nats`, else in the
 * process's memory; their HTTP routes, and their metrics in serve's registry. A string is
 * a usage error (an invalid document).
 */
export async function hostStreams(options: {
  files: readonly string[];
  engine: Engine;
  nats?: string;
  graceMs?: number;
  registry: Parameters<typeof createStreamMetrics>[0]['registry'];
  bodyLimit: number;
  onError: (line: string) => void;
}): Promise<{ service: StreamService; router: ReturnType<typeof createStreamRouter> } | string> {
  // Every document is checked before any transport opens: a bad one leaves nothing open.
  const documents = new Map<string, { stream: CompiledStream; file: string }>();
  for (const file of options.files) {
    const r = await loadWithCrews(file);
    if (!r.stream) return `--stream ${file}: ${r.diagnostics.map((d) => formatDiagnostic(d)).join('\n')}`;
    // One stream id is one event log and one route.
    const other = documents.get(r.stream.id);
    if (other !== undefined)
      return `--stream ${file}: stream "${r.stream.id}" is given twice (also by ${other.file}); each stream is hosted once`;
    documents.set(r.stream.id, { stream: r.stream, file });
  }
  const hosted = [];
  for (const { stream, file } of documents.values()) {
    const transport = options.nats
      ? await createNatsTransport({ streamId: stream.id, servers: options.nats })
      : createMemoryTransport();
    hosted.push({ stream, transport, resolveWorkflow: resolverFor(file) });
  }
  const service = createStreamService({
    engine: options.engine,
    streams: hosted,
    ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
    metrics: createStreamMetrics({ registry: options.registry }),
    onError: (e) => options.onError(errorLine(e).trimEnd()),
  });
  await service.start();
  return { service, router: createStreamRouter(service, { bodyLimit: options.bodyLimit }) };
}
