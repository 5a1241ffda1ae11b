/**
 * The stream document's model: its TypeScript shape and its published JSON Schema
 * (`schema/stream.schema.json`, written by `scripts/generate-stream-schema.ts`).
 */
import { POSITIVE_DURATION_PATTERN } from '@orchestr8/schema';

/** Stream ids name NATS streams and subjects too, so no dots, wildcards or spaces. */
export const STREAM_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Event and action kinds. */
export const KIND_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
/** Crew ids and context keys. */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
/** Event ids: what a producer uses to deduplicate. */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Durations are the workflows' (one parser for both): units ms, s, m, h and d, greater than zero. */
const DURATION = POSITIVE_DURATION_PATTERN.source;

export const PATTERN_TEXT: Readonly<Record<string, string>> = {
  [STREAM_ID_PATTERN.source]: 'must be a stream id of lowercase letters, digits, "_" and "-" (at most 64)',
  [KIND_PATTERN.source]: 'must be a kind of letters, digits, "_", "." and "-", starting with a letter',
  [NAME_PATTERN.source]: 'must be a name of letters, digits, "_" and "-", not starting with a digit',
  [DURATION]:
    'must be a duration greater than zero like "500ms", "30s", "5m", "1h" or "3d", or a number of milliseconds',
};

export type MergePolicy = 'lww' | 'counter' | 'union';
export type BacklogPolicy = 'queue' | 'latest' | 'merge';
export type CrewErrorPolicy = 'continue' | 'skip-dependents';
export type Duration = string | number;

export interface CrewDocument {
  id: string;
  description?: string;
  /** The event kinds that make this crew run in a slice. */
  on: string[];
  dependsOn?: string[];
  timeout?: Duration;
  onError?: CrewErrorPolicy;
  /** An inline workflow document, or the id of a workflow the host resolves. */
  workflow?: Record<string, unknown> | string;
  /** Or a step list (workflow steps), run as a workflow of its own. */
  steps?: Record<string, unknown>[];
  /** With `steps`: the crew's result, as a workflow's `outputs`. */
  outputs?: Record<string, unknown>;
}

export interface StreamDocument {
  $schema?: string;
  version: string;
  id: string;
  description?: string;
  slice: Duration;
  epoch?: string | number;
  events: Record<string, { description?: string; payload?: Record<string, unknown> | boolean }>;
  context?: {
    merge?: 'lww';
    keys?: Record<string, MergePolicy>;
    initial?: Record<string, unknown>;
  };
  actions?: { ttl?: Duration };
  backlog?: BacklogPolicy;
  limits?: {
    maxEventBytes?: number;
    maxActionBytes?: number;
    maxEventsPerSlice?: number;
    maxActionsPerCrew?: number;
    maxContextBytes?: number;
  };
  crews: CrewDocument[];
}

export const STREAM_SCHEMA_ID = 'https://orchestr8.dev/schema/stream/v1.json';

const duration = (description: string) => ({
  description,
  anyOf: [
    { type: 'string', pattern: DURATION },
    { type: 'integer', minimum: 1 },
  ],
});
const positive = (description: string, max: number) => ({
  type: 'integer',
  minimum: 1,
  maximum: max,
  description,
});

/** The published JSON Schema of stream documents (2020-12). */
export const STREAM_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: STREAM_SCHEMA_ID,
  title: 'orchestr8 stream',
  description:
    'An event stream processed in time slices by cooperating crews that share a context and publish actions.',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'id', 'slice', 'events', 'crews'],
  properties: {
    $schema: { type: 'string', description: 'The JSON Schema this document follows, for editors.' },
    version: {
      type: 'string',
      pattern: '^1\\.\\d+\\.\\d+$',
      description: 'Version of the stream format, semver; major version 1.',
    },
    id: { type: 'string', pattern: STREAM_ID_PATTERN.source, description: 'The stream id events carry.' },
    description: { type: 'string' },
    slice: duration('Length of a time slice, e.g. "500ms".'),
    epoch: {
      description:
        'Where slice 0 begins: an ISO-8601 time or epoch milliseconds (default 0). Slice index = floor((ts - epoch) / slice).',
      anyOf: [
        { type: 'string', format: 'date-time' },
        { type: 'integer', minimum: 0 },
      ],
    },
    events: {
      type: 'object',
      description: 'The event kinds this stream accepts, each with an optional JSON Schema for its payload.',
      minProperties: 1,
      propertyNames: { pattern: KIND_PATTERN.source },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          description: { type: 'string' },
          payload: { type: ['object', 'boolean'], description: 'JSON Schema (2020-12) of the payload.' },
        },
      },
    },
    context: {
      type: 'object',
      additionalProperties: false,
      description: 'The shared context crews read and write; writes are merged at the end of each slice.',
      properties: {
        merge: { enum: ['lww'], description: 'Policy of keys not listed in `keys`: last writer wins.' },
        keys: {
          type: 'object',
          description:
            'Per-key merge policies: lww (last writer wins), counter (writes add), union (set union).',
          propertyNames: { pattern: NAME_PATTERN.source },
          additionalProperties: { enum: ['lww', 'counter', 'union'] },
        },
        initial: {
          type: 'object',
          description: 'The context before the first slice.',
          propertyNames: { pattern: NAME_PATTERN.source },
        },
      },
    },
    actions: {
      type: 'object',
      additionalProperties: false,
      properties: { ttl: duration('Time-to-live of actions that set none (default 1m).') },
    },
    backlog: {
      enum: ['queue', 'latest', 'merge'],
      description:
        'When slices close faster than crews process them: queue (process each), latest (skip to the latest), merge (process the waiting slices as one). Default queue.',
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxEventBytes: positive('Largest event, as JSON (default 65536).', 1_048_576),
        maxActionBytes: positive('Largest action, as JSON (default 65536).', 1_048_576),
        maxEventsPerSlice: positive(
          'Events beyond this in one slice are refused (default 10000).',
          1_000_000,
        ),
        maxActionsPerCrew: positive('Actions one crew may publish per slice (default 100).', 100_000),
        maxContextBytes: positive('Largest context, as JSON (default 262144).', 900_000),
      },
    },
    crews: {
      type: 'array',
      minItems: 1,
      description: 'The crews, in the order that breaks ties between their writes (a later crew wins).',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'on'],
        properties: {
          id: { type: 'string', pattern: NAME_PATTERN.source },
          description: { type: 'string' },
          on: {
            type: 'array',
            minItems: 1,
            items: { type: 'string', pattern: KIND_PATTERN.source },
            description: 'Event kinds that make the crew run in a slice.',
          },
          dependsOn: {
            type: 'array',
            items: { type: 'string', pattern: NAME_PATTERN.source },
            description: 'Crews that run before this one in a slice; their actions are its input.',
          },
          timeout: duration('How long the crew may run per slice (default 10s).'),
          onError: {
            enum: ['continue', 'skip-dependents'],
            description:
              'When the crew fails: its error goes to the error sink and the others go on (continue, the default), or the crews that depend on it are skipped too.',
          },
          workflow: {
            description: 'An inline workflow document, or the id of a workflow.',
            anyOf: [{ type: 'object' }, { type: 'string', minLength: 1 }],
          },
          steps: {
            type: 'array',
            minItems: 1,
            items: { type: 'object' },
            description: 'Workflow steps, run as a workflow of their own.',
          },
          outputs: { type: 'object', description: "With steps: the crew's result, as a workflow's outputs." },
        },
      },
    },
  },
} as const;
