/**
 * How the standard agents that touch the host narrow a document's `agent.config` to the
 * operator's grant (`capabilities.agents[id]`): lists may only shrink, the root directory
 * may only move inside the operator's, and anything else asked for beyond it is refused.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { GrantDenied } from '@orchestr8/core';

/**
 * A step input's value as written, when it is a plain string: no `${...}` template, so its
 * value is known before the run (`grantInput` checks those); undefined otherwise.
 */
export function literalString(value: unknown): string | undefined {
  return typeof value === 'string' && !value.includes('${') ? value : undefined;
}

/** Where the operator grants the agent's capabilities, for error messages. */
export function grantHint(agentId: string, field: string, flag?: string): string {
  const where = `capabilities.agents["${agentId}"].${field} in orchestr8.config`;
  return `the operator grants it with ${where}${flag ? ` or ${flag}` : ''}`;
}

export function stringList(value: unknown, what: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new GrantDenied(what, `${what} must be a list of strings`, 'fix the configuration');
  }
  return value as string[];
}

/**
 * A document's list narrowed to the operator's: every entry must be granted (`*` in the
 * operator's list grants any). Without a document list, the operator's applies as is.
 */
export function narrowList(
  requested: unknown,
  granted: readonly string[],
  capability: string,
  hint: string,
  describe: (entry: string) => string,
): string[] {
  const asked = stringList(requested, capability);
  if (asked === undefined) return [...granted];
  const all = granted.includes('*');
  const denied = asked.filter((a) => !all && !granted.includes(a));
  if (denied.length > 0) {
    const list = denied.map(describe).join(', ');
    const has = granted.length === 0 ? 'grants none' : `grants only ${granted.join(', ')}`;
    throw new GrantDenied(capability, `agent.config asks for ${list}, but the operator ${has}`, hint);
  }
  return asked;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * The root directory an agent works in: the operator's (`operator.root`, default the
 * process's working directory), or a document's `root` inside it. The result carries the
 * operator's root as `rootLimit`, so symlinks are checked again when the agent runs.
 */
export function narrowRoot(
  requested: Readonly<Record<string, unknown>>,
  operator: Readonly<Record<string, unknown>>,
  agentId: string,
): { root: string; rootLimit: string } {
  if (operator.root !== undefined && typeof operator.root !== 'string') {
    throw new GrantDenied(
      `${agentId}.root`,
      'the operator root must be a string path',
      'fix the configuration',
    );
  }
  const limit = resolve(process.cwd(), (operator.root as string | undefined) ?? '.');
  if (requested.root === undefined) return { root: limit, rootLimit: limit };
  if (typeof requested.root !== 'string') {
    throw new GrantDenied(`${agentId}.root`, 'agent.config.root must be a string path', 'fix the document');
  }
  const root = resolve(limit, requested.root);
  if (!inside(limit, root)) {
    throw new GrantDenied(
      `${agentId}.root`,
      `agent.config.root "${requested.root}" is outside the directory the operator grants (${limit})`,
      grantHint(agentId, 'root'),
    );
  }
  return { root, rootLimit: limit };
}
