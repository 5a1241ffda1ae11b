import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ValidationError } from '@orchestr8/common';

/**
 * The project root: `config.root` (resolved against the process's working directory) or the
 * working directory itself, with symlinks resolved. When the operator's grant set
 * `config.rootLimit`, the real root must stay inside it (no symlink out of it).
 */
export async function projectRoot(config: Readonly<Record<string, unknown>>, agent: string): Promise<string> {
  return (await projectRoots(config, agent)).root;
}

/**
 * `projectRoot`, and the operator's real root beside it (`config.rootLimit` with symlinks
 * resolved, or the project root when the grant sets none): checks relative to what the
 * operator granted, not to a root a document narrowed to, read it from here.
 */
export async function projectRoots(
  config: Readonly<Record<string, unknown>>,
  agent: string,
): Promise<{ root: string; limit: string }> {
  const configured = config.root;
  if (configured !== undefined && typeof configured !== 'string') {
    throw new ValidationError(`${agent}: config.root must be a string path`);
  }
  const root = resolve(process.cwd(), configured ?? '.');
  let real: string;
  try {
    real = await realpath(root);
  } catch {
    throw new ValidationError(`${agent}: the project root ${root} does not exist`);
  }
  if (typeof config.rootLimit === 'string') {
    let limit: string;
    try {
      limit = await realpath(config.rootLimit);
    } catch {
      throw new ValidationError(`${agent}: the operator's root ${config.rootLimit} does not exist`);
    }
    if (!inside(limit, real)) {
      throw new ValidationError(`${agent}: the root ${root} leads outside the operator's root ${limit}`);
    }
    return { root: real, limit };
  }
  return { root: real, limit: real };
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Resolves `path` (relative to `root`) and checks that it stays inside `root`, both as
 * written (no `..` escape) and after following symlinks (no link pointing out).
 * Returns the real path; the file or directory must exist.
 */
export async function resolveInside(
  root: string,
  path: string,
  agent: string,
  what: string,
): Promise<{ path: string; isDirectory: boolean }> {
  const candidate = resolve(root, path);
  if (!inside(root, candidate)) {
    throw new ValidationError(`${agent}: ${what} "${path}" is outside the project root ${root}`);
  }
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    throw new ValidationError(`${agent}: ${what} "${path}" does not exist (resolved to ${candidate})`);
  }
  if (!inside(root, real)) {
    throw new ValidationError(
      `${agent}: ${what} "${path}" leads outside the project root ${root} through a symlink (to ${real})`,
    );
  }
  const info = await stat(real);
  return { path: real, isDirectory: info.isDirectory() };
}
