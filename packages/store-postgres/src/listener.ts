import type pg from 'pg';
import { type ConnectionSettings, createClient } from './connection.js';

interface Channel {
  handlers: Set<(payload: string) => void>;
  reconnects: Set<() => void>;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * One dedicated connection that LISTENs on every channel a store subscribes to. When the
 * connection drops it reconnects (with backoff), listens again, and tells subscribers, who
 * must re-read what they follow: notifications sent while disconnected are lost.
 */
export class Listener {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly channels = new Map<string, Channel>();
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** pg runs one query at a time per client: LISTEN/UNLISTEN are queued here. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly settings: ConnectionSettings) {}

  async listen(
    channel: string,
    handler: (payload: string) => void,
    onReconnect?: () => void,
  ): Promise<() => void> {
    let ch = this.channels.get(channel);
    const fresh = ch === undefined;
    if (!ch) {
      ch = { handlers: new Set(), reconnects: new Set() };
      this.channels.set(channel, ch);
    }
    ch.handlers.add(handler);
    if (onReconnect) ch.reconnects.add(onReconnect);
    const client = await this.connect();
    if (fresh) await this.run(client, `LISTEN ${quote(channel)}`);
    return () => {
      ch.handlers.delete(handler);
      if (onReconnect) ch.reconnects.delete(onReconnect);
      if (ch.handlers.size === 0 && this.channels.get(channel) === ch) {
        this.channels.delete(channel);
        if (this.client) this.run(this.client, `UNLISTEN ${quote(channel)}`).catch(() => {});
      }
    };
  }

  private connect(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const client = createClient(this.settings);
      client.on('notification', (n) => {
        const ch = this.channels.get(n.channel);
        if (!ch) return;
        for (const h of ch.handlers) {
          try {
            h(n.payload ?? '');
          } catch {
            // a failing handler must not stop the others
          }
        }
      });
      client.on('error', () => this.lost(client));
      client.on('end', () => this.lost(client));
      try {
        await client.connect();
        for (const name of this.channels.keys()) await this.run(client, `LISTEN ${quote(name)}`);
      } catch (error) {
        client.end().catch(() => {});
        this.connecting = undefined;
        throw error;
      }
      this.client = client;
      this.connecting = undefined;
      this.failures = 0;
      return client;
    })();
    return this.connecting;
  }

  private run(client: pg.Client, sql: string): Promise<unknown> {
    const next = this.queue.then(() => client.query(sql));
    this.queue = next.catch(() => {});
    return next;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => {});
    if (!this.closed) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.retryTimer || this.closed) return;
    const delay = Math.min(5000, 100 * 2 ** this.failures++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed || this.channels.size === 0) return;
      this.connect().then(
        () => {
          for (const ch of this.channels.values()) for (const r of ch.reconnects) r();
        },
        () => this.scheduleReconnect(),
      );
    }, delay);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.channels.clear();
    const client = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
