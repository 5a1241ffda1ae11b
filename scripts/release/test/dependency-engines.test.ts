/**
 * The packages promise the Node.js of their `engines` field (>=20.11, as CI runs): no
 * production dependency of a public package, direct or transitive, as pnpm-lock.yaml resolves
 * it, may declare an `engines.node` that leaves that version out. npm installs such a
 * dependency with an EBADENGINE warning and the package may then fail at run time (the
 * OpenTelemetry 3.x SDK and @nats-io/nuid 3 require Node.js 22). The packed-install check
 * asserts the same of what npm resolves from the published ranges.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { minVersion, satisfies } from 'semver';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { publicPackages, REPO } from '../pack.mjs';

interface Lockfile {
  importers: Record<
    string,
    {
      dependencies?: Record<string, { version: string }>;
      optionalDependencies?: Record<string, { version: string }>;
    }
  >;
  packages: Record<string, { engines?: { node?: string } }>;
  snapshots: Record<
    string,
    { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }
  >;
}

/** The lowest Node.js the repository promises: the root `engines.node` (>=20.11 -> 20.11.0). */
function promisedNode(): string {
  const root = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { engines: { node: string } };
  const lowest = minVersion(root.engines.node);
  if (!lowest) throw new Error(`root engines.node "${root.engines.node}" has no lowest version`);
  return lowest.version;
}

/**
 * Every production dependency (dependencies and optional ones, not dev, not peer) reachable
 * from the public packages' importers, as `name@version` with the path that brings it in,
 * and the `engines.node` the lockfile records for it.
 */
function productionClosure(lock: Lockfile): { id: string; via: string; node?: string }[] {
  const seen = new Map<string, string>();
  const queue: { name: string; version: string; via: string }[] = [];
  const importers = new Set<string>();
  const visitImporter = (importer: string, via: string) => {
    if (importers.has(importer)) return;
    importers.add(importer);
    const entry = lock.importers[importer];
    if (!entry) throw new Error(`pnpm-lock.yaml has no importer ${importer}`);
    for (const [name, { version }] of Object.entries({
      ...entry.dependencies,
      ...entry.optionalDependencies,
    })) {
      if (version.startsWith('link:')) {
        visitImporter(join(importer, version.slice('link:'.length)), `${via} > ${name}`);
      } else queue.push({ name, version, via: `${via} > ${name}@${version}` });
    }
  };
  for (const p of publicPackages()) visitImporter(relative(REPO, p.dir), p.name);
  while (queue.length > 0) {
    const { name, version, via } = queue.shift()!;
    const key = `${name}@${version}`;
    if (seen.has(key)) continue;
    seen.set(key, via);
    const snapshot = lock.snapshots[key] ?? {};
    for (const [dep, v] of Object.entries({ ...snapshot.dependencies, ...snapshot.optionalDependencies })) {
      queue.push({ name: dep, version: v, via: `${via} > ${dep}@${v}` });
    }
  }
  return [...seen].map(([key, via]) => {
    const id = key.replace(/\(.*$/, '');
    return { id, via, node: lock.packages[id]?.engines?.node };
  });
}

describe('production dependencies of the public packages (pnpm-lock.yaml)', () => {
  const lock = parse(readFileSync(join(REPO, 'pnpm-lock.yaml'), 'utf8')) as Lockfile;
  const node = promisedNode();

  it('are found (the walk reaches the OpenTelemetry SDK and the NATS client)', () => {
    const ids = productionClosure(lock).map((d) => d.id);
    expect(ids.some((id) => id.startsWith('@opentelemetry/sdk-trace@'))).toBe(true);
    expect(ids.some((id) => id.startsWith('@nats-io/nuid@'))).toBe(true);
  });

  it(`all run on the promised Node.js (${node}) by their engines field`, () => {
    const excluded = productionClosure(lock)
      .filter((d) => d.node !== undefined && !satisfies(node, d.node))
      .map((d) => `${d.id} requires node ${d.node} (${d.via})`);
    expect(excluded).toEqual([]);
  });
});
