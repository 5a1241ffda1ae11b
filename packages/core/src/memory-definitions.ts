/** The memory store's workflow definitions: versions per workflow id, one rule for "latest". */
import { definitionConflict, latestDefinition } from './definition-versions.js';
import type { DefinitionRecord } from './types.js';

export class DefinitionTable {
  private readonly byId = new Map<string, Map<string, DefinitionRecord>>();

  /** Stores a version, or returns the stored one when it has the same hash; another hash conflicts. */
  put(definition: DefinitionRecord): DefinitionRecord {
    let versions = this.byId.get(definition.id);
    const existing = versions?.get(definition.version);
    if (existing) {
      if (existing.hash !== definition.hash) throw definitionConflict(definition, existing);
      return { ...existing };
    }
    if (!versions) {
      versions = new Map();
      this.byId.set(definition.id, versions);
    }
    versions.set(definition.version, definition);
    return { ...definition };
  }

  get(id: string, version?: string): DefinitionRecord | undefined {
    const versions = this.byId.get(id);
    if (!versions) return undefined;
    const found = version === undefined ? latestDefinition([...versions.values()]) : versions.get(version);
    return found && { ...found };
  }

  /** The first stored (oldest) definition with this hash. */
  byHash(hash: string): DefinitionRecord | undefined {
    let first: DefinitionRecord | undefined;
    for (const versions of this.byId.values()) {
      for (const d of versions.values()) {
        if (d.hash === hash && (!first || compareOldestFirst(d, first) < 0)) first = d;
      }
    }
    return first && { ...first };
  }

  list(): DefinitionRecord[] {
    const all: DefinitionRecord[] = [];
    for (const versions of this.byId.values()) for (const d of versions.values()) all.push({ ...d });
    return all.sort(compareOldestFirst);
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareOldestFirst(a: DefinitionRecord, b: DefinitionRecord): number {
  return compareStrings(a.id, b.id) || a.createdAt - b.createdAt || compareStrings(a.version, b.version);
}
