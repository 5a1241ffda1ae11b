/**
 * Connection settings: the URL (with an optional `schema` parameter of our own), a pool
 * whose BIGINT columns come back as numbers (every one of ours is an epoch-ms time or a
 * counter, far below 2^53), and a redacted form of the URL for messages.
 */
import { ErrorCode, Orchestr8Error } from '@orchestr8/common';
import pg from 'pg';

export interface ConnectionSettings {
  /** The URL handed to `pg`, without our `schema` parameter. */
  connectionString: string;
  /** The schema holding orchestr8's tables ("public" unless the URL or options say otherwise). */
  schema: string;
  /** user@host:port/database, for messages (never the password). */
  where: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function parseConnection(url: string, schema?: string): ConnectionSettings {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Orchestr8Error(
      ErrorCode.VALIDATION,
      'invalid PostgreSQL URL (expected postgres://user@host/db)',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Orchestr8Error(ErrorCode.VALIDATION, `not a PostgreSQL URL: ${parsed.protocol}//…`);
  }
  const fromUrl = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  const name = schema ?? fromUrl ?? 'public';
  if (!SCHEMA_NAME.test(name)) {
    throw new Orchestr8Error(
      ErrorCode.VALIDATION,
      `invalid schema name "${name}": use lower-case letters, digits and "_" (at most 63)`,
    );
  }
  const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : '';
  const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
  const port = parsed.port ? `:${parsed.port}` : '';
  const database = parsed.pathname.replace(/^\//, '') || decodeURIComponent(parsed.username) || 'postgres';
  return {
    connectionString: parsed.toString(),
    schema: name,
    where: `${user}${host}${port}/${database}${name === 'public' ? '' : ` (schema ${name})`}`,
  };
}

const INT8 = 20;
const parseInt8 = (value: string) => Number(value);

/** pg's type parsers, but BIGINT as a number: per pool, so the process-wide defaults are left alone. */
export const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export function createPool(settings: ConnectionSettings, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: settings.connectionString,
    max,
    types: typeParsers,
    // Every connection resolves our unqualified table names in our schema.
    options: `-c search_path=${settings.schema}`,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: 'orchestr8',
  });
  // An idle client whose server went away: the next query gets a fresh connection.
  pool.on('error', () => {});
  return pool;
}

/** A dedicated client (not from the pool), e.g. for LISTEN. */
export function createClient(settings: ConnectionSettings): pg.Client {
  return new pg.Client({
    connectionString: settings.connectionString,
    types: typeParsers,
    options: `-c search_path=${settings.schema}`,
    connectionTimeoutMillis: 10_000,
    application_name: 'orchestr8-listen',
  });
}
