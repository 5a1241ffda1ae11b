/**
 * The store's workflow definitions: storing one (a version is immutable: a different
 * document under the same version is refused), reading by id and version, by hash, listing.
 */
import { type DefinitionRecord, definitionConflict, latestDefinition, type Store } from '@orchestr8/core';
import type { Database } from './database.js';
import { json, toDefinition } from './rows.js';

/** The definition methods of the store, on `db`. */
export function definitionMethods(
  db: Pick<Database, 'query'>,
): Pick<Store, 'putDefinition' | 'getDefinition' | 'getDefinitionByHash' | 'listDefinitions'> {
  const { query } = db;
  return {
    async putDefinition(definition: DefinitionRecord) {
      const inserted = await query(
        'store a definition',
        `INSERT INTO definitions (id, version, hash, document, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id, version) DO NOTHING RETURNING id`,
        [
          definition.id,
          definition.version,
          definition.hash,
          json(definition.document) ?? 'null',
          definition.createdAt,
        ],
      );
      if (inserted.rowCount === 1) return { ...definition };
      const found = await query(
        'read a definition',
        'SELECT * FROM definitions WHERE id = $1 AND version = $2',
        [definition.id, definition.version],
      );
      const existing = toDefinition(found.rows[0]!);
      if (existing.hash !== definition.hash) throw definitionConflict(definition, existing);
      return existing;
    },

    async getDefinition(id, version) {
      if (version !== undefined) {
        const r = await query(
          'read a definition',
          'SELECT * FROM definitions WHERE id = $1 AND version = $2',
          [id, version],
        );
        return r.rows[0] && toDefinition(r.rows[0]);
      }
      const r = await query('read a definition', 'SELECT * FROM definitions WHERE id = $1', [id]);
      return latestDefinition(r.rows.map(toDefinition));
    },

    async getDefinitionByHash(hash) {
      const r = await query(
        'read a definition',
        'SELECT * FROM definitions WHERE hash = $1 ORDER BY id, created_at, version LIMIT 1',
        [hash],
        'o8_definition_by_hash',
      );
      return r.rows[0] && toDefinition(r.rows[0]);
    },

    async listDefinitions() {
      const r = await query('list definitions', 'SELECT * FROM definitions ORDER BY id, created_at, version');
      return r.rows.map(toDefinition);
    },
  };
}
