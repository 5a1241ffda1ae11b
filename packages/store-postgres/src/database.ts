/**
 * What the parts of the PostgreSQL store need of it: queries, transactions and notifications.
 * Its own file so that the parts (waits, tasks) and the store that assembles them do not
 * import each other.
 */
import type pg from 'pg';
import type { Row } from './rows.js';

/** A transaction's connection: queries run inside BEGIN ... COMMIT. */
export interface Tx {
  query<R extends Row = Row>(text: string, values?: unknown[], name?: string): Promise<pg.QueryResult<R>>;
}

export interface Database {
  /**
   * Runs `fn` in one transaction on one pooled connection, retrying the whole of it (up to
   * 5 times) when PostgreSQL reports a deadlock or a serialization failure.
   */
  transaction<T>(action: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** One query outside any explicit transaction. */
  query<R extends Row = Row>(
    action: string,
    text: string,
    values?: unknown[],
    name?: string,
  ): Promise<pg.QueryResult<R>>;
  /**
   * Sends a NOTIFY on a channel of this schema, outside any data transaction (notifications
   * of one tick go in one statement). Best effort: listeners also poll.
   */
  notify(channel: string, payload: string): void;
}
