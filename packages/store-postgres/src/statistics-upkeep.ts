/**
 * Keeps PostgreSQL's statistics of orchestr8's tables current while they grow fast.
 *
 * Why: the store's statements are named (prepared), and PostgreSQL keeps a prepared
 * statement's generic plan until the tables' statistics change. Planned while a table was
 * small (a fresh database), a lookup by key such as `id = ANY($1)` is a sequential scan,
 * and it stays one as the table grows: until autovacuum first analyzes the table (it looks
 * every `autovacuum_naptime`, a minute by default), every commit scans every execution. A
 * burst on a fresh database (a load test, a first import) then slows down as it goes: in
 * the worker profile (W3, 100 in flight, 1 worker), PostgreSQL's CPU per step rose from
 * about 300 µs over 1,000 executions to 560 µs over 10,000.
 *
 * What: every `intervalMs` (give or take a quarter, so that processes started together do
 * not look together), one look at the tables' live row counts; a table that has at least
 * `MIN_ROWS` rows and was never analyzed, or has more than doubled since it was, is analyzed
 * (sampled: bounded cost whatever its size). Doubling keeps it to a few analyses as a table
 * grows (each one makes every connection plan its statements again); past the first minutes
 * autovacuum's own thresholds take over. Whichever process looks first analyzes; one that
 * finds the table being analyzed (or locked, e.g. by a migration) skips it rather than wait,
 * and the others then find it analyzed. Tables the connecting role does not own are left to
 * autovacuum (PostgreSQL would skip them with a warning at every look).
 */
import type { Database } from './database.js';

/** Tables whose lookups must use their indexes as they grow. */
const TABLES = ['executions', 'steps', 'journal', 'tasks', 'waits'] as const;
/** Below this, a scan costs about what an index lookup does. */
export const MIN_ROWS = 1000;

export interface StatisticsUpkeep {
  /** One look, and the analyses it decides; the tables it asked PostgreSQL to analyze. */
  check(): Promise<string[]>;
  /** No more looks; resolves when the one in progress, if any, has ended. */
  stop(): Promise<void>;
}

/**
 * Looks every `intervalMs` (0: never; `check` still works), but only when the store ran
 * statements since its last look (`activity`: how many it has run): an idle store borrows
 * no connection, so its pool drains and a program that leaves it open can still exit. A
 * failed look (the database unreachable for a moment) is not reported: the store's own
 * operations report that, and the next look tries again.
 */
export function startStatisticsUpkeep(
  db: Pick<Database, 'query'>,
  schema: string,
  intervalMs: number,
  activity: () => number = () => Number.NaN,
): StatisticsUpkeep {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  // What `activity` said after the last look (its own statements included).
  let seen = activity();
  const check = async (): Promise<string[]> => {
    const r = await db.query<{ relname: string }>(
      'look at table statistics',
      `SELECT c.relname FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_stat_user_tables s ON s.relid = c.oid
       WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND s.n_live_tup >= $3
         AND (c.reltuples < 0 OR s.n_live_tup > 2 * c.reltuples)
         AND pg_has_role(c.relowner, 'USAGE')
       ORDER BY c.relname`,
      [schema, TABLES, MIN_ROWS],
      'o8_statistics_look',
    );
    const analyzed: string[] = [];
    for (const { relname } of r.rows) {
      if (stopped) break;
      // Names from TABLES and the validated schema name (lower-case letters, digits, "_").
      await db.query('analyze a table', `ANALYZE (SKIP_LOCKED) "${schema}"."${relname}"`);
      analyzed.push(relname);
    }
    return analyzed;
  };
  const later = () => {
    if (!stopped) timer = setTimeout(tick, intervalMs * (0.75 + Math.random() / 2)).unref();
  };
  const tick = () => {
    // NaN (no activity count given) never equals itself: then every tick looks.
    if (activity() === seen) return later();
    running = check()
      .catch(() => {})
      .then(() => {
        seen = activity();
        later();
      });
  };
  if (intervalMs > 0) later();
  return {
    check,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
