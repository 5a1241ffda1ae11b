/**
 * The research agents: an offline search over a small corpus, and a "live" news source that
 * is down unless told otherwise (so the fallback and the circuit breaker have work to do).
 */
import { defineAgent } from '@orchestr8/agent-base';
import { RetryableError } from '@orchestr8/common';

export interface Finding {
  title: string;
  source: string;
  snippet: string;
}

export interface SearchInput {
  query: string;
  source: 'web' | 'papers' | 'news';
}

export interface SearchOutput {
  source: string;
  query: string;
  count: number;
  results: Finding[];
}

const CORPUS: Record<string, Finding[]> = {
  web: [
    {
      title: 'What is a durable workflow?',
      source: 'blog.example',
      snippet: 'State survives crashes; steps resume where they stopped.',
    },
    {
      title: 'Retries and backoff in practice',
      source: 'docs.example',
      snippet: 'Full-jitter backoff spreads retries of many clients.',
    },
    {
      title: 'Circuit breakers explained',
      source: 'wiki.example',
      snippet: 'Stop calling a dependency that keeps failing, probe later.',
    },
  ],
  papers: [
    {
      title: 'Sagas (Garcia-Molina, Salem, 1987)',
      source: 'acm.example',
      snippet: 'Long-lived transactions as compensable steps.',
    },
    {
      title: 'Exactly-once is a lie, idempotency is not',
      source: 'arxiv.example',
      snippet: 'Idempotency keys make at-least-once delivery safe.',
    },
  ],
  news: [
    {
      title: 'Archive: workflow engines in 2024',
      source: 'news-archive.example',
      snippet: 'Durable execution goes mainstream.',
    },
  ],
};

/** Searches the offline corpus: results whose title or snippet share a word with the query come first. */
export const search = defineAgent<SearchInput, SearchOutput>({
  id: '@research/search',
  version: '1.0.0',
  description: 'Searches an offline corpus (web, papers, or the news archive).',
  inputSchema: {
    type: 'object',
    required: ['query', 'source'],
    properties: { query: { type: 'string', minLength: 1 }, source: { enum: ['web', 'papers', 'news'] } },
  },
  execute({ query, source }) {
    const words = query
      .toLowerCase()
      .split(/\W+/)
      .filter((w) => w.length > 3);
    const score = (f: Finding) =>
      words.filter((w) => `${f.title} ${f.snippet}`.toLowerCase().includes(w)).length;
    const results = [...(CORPUS[source] ?? [])].sort((a, b) => score(b) - score(a));
    return { source: source === 'news' ? 'news-archive' : source, query, count: results.length, results };
  },
});

export interface LiveNewsInput {
  query: string;
  source?: string;
  /** The live source answers only when this is true: by default it is down. */
  online?: boolean;
}

/** A live news API that is down (HTTP 503) unless `online` is true. */
export const liveNews = defineAgent<LiveNewsInput, SearchOutput>({
  id: '@research/live-news',
  version: '1.0.0',
  description: 'Latest news on a query from a live API (down unless online is true).',
  inputSchema: {
    type: 'object',
    required: ['query'],
    properties: { query: { type: 'string' }, source: { type: 'string' }, online: { type: 'boolean' } },
  },
  // One circuit per service host, shared by every step that calls it.
  target: () => 'news.example',
  execute({ query, online }) {
    if (!online)
      throw new RetryableError('news.example answered 503 Service Unavailable', { code: 'HTTP_5XX' });
    const results = [
      { title: `Breaking: ${query}`, source: 'news.example', snippet: 'Fresh from the wire.' },
    ];
    return { source: 'news-live', query, count: results.length, results };
  },
});
