/**
 * Workflow definitions. `PUT /workflows/:id` registers the version named by the document's
 * `version`; the resource `/workflows/:id` is the newest version, and its `ETag` is that
 * version's content hash. `If-Match` makes a PUT conditional on the newest version being
 * the one the client saw (412 otherwise); `If-None-Match: *` on there being none yet.
 * Conditional PUTs of one workflow are serialised within this server process.
 * `POST /workflows/validate` checks a document without storing it (workflow-validate.ts).
 */
import { ErrorCode, hasCode } from '@orchestr8/common';
import type { DefinitionRecord } from '@orchestr8/core';
import type { Request, Response } from 'express';
import type { RouteDef, ServerContext } from '../context.js';
import type { RequestInput } from '../contracts/contract.js';
import { route } from '../contracts/route.js';
import {
  getWorkflow,
  listWorkflows,
  listWorkflowVersions,
  putWorkflow,
  validateWorkflow,
} from '../contracts/workflows.js';
import { noneMatch } from '../http.js';
import { HttpProblem, ProblemCode } from '../problem.js';
import { refuseReservedId } from '../workflow-resolver.js';
import { validateDocument } from './workflow-validate.js';

export function workflowRoutes(ctx: ServerContext): RouteDef[] {
  const locks = new Map<string, Promise<void>>();
  /** Runs `fn` after every earlier PUT of the same id. */
  const serialised = async <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    const before = locks.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const chained = before.then(() => mine);
    locks.set(id, chained);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (locks.get(id) === chained) locks.delete(id);
    }
  };
  // Requests are parsed by their contracts (contracts/workflows.ts) before these handlers run.
  return [
    // Before `/workflows/:id`: a fixed path wins over the parametric one for its method.
    route(validateWorkflow, ({ body }, _req, res) =>
      // The contract let exactly one through.
      validateDocument(ctx, (body.workflow ?? body.document)!, res),
    ),
    route(listWorkflows, (_input, req, res) => list(ctx, req, res)),
    route(getWorkflow, (input, req, res) => get(ctx, input, req, res)),
    route(listWorkflowVersions, (_input, req, res) => versions(ctx, req, res)),
    route(putWorkflow, (input, req, res) => serialised(input.params.id, () => put(ctx, input, req, res))),
  ];
}

const strongTag = (d: DefinitionRecord) => `"${d.hash}"`;

function describe(d: DefinitionRecord): Record<string, unknown> {
  return { id: d.id, version: d.version, hash: d.hash, createdAt: d.createdAt };
}

/** `If-Match` (strong comparison): true when the header allows the write. */
function ifMatch(header: string, current: DefinitionRecord | undefined): boolean {
  if (header.trim() === '*') return current !== undefined;
  if (!current) return false;
  const tag = strongTag(current);
  return header.split(',').some((t) => t.trim() === tag);
}

async function put(
  ctx: ServerContext,
  { params, body }: RequestInput<typeof putWorkflow>,
  req: Request,
  res: Response,
): Promise<void> {
  const id = params.id;
  // YAML (application/yaml) arrives as text; the loader checks its size, depth and aliases.
  const { workflow } = ctx.resolver.inline(body as unknown);
  refuseReservedId(workflow.id);
  // A document that asks for more than this host grants is refused now, not at its first run.
  ctx.engine.authorize(workflow);
  if (workflow.id !== id) {
    throw new HttpProblem(
      422,
      ProblemCode.VALIDATION,
      `the document's metadata.id "${workflow.id}" does not match the URL's "${id}"`,
      {
        errors: [
          {
            code: 'E_REQUEST',
            severity: 'error',
            pointer: '/metadata/id',
            message: `must be "${id}", as in the URL`,
          },
        ],
      },
    );
  }
  const current = await ctx.store.getDefinition(id);
  const im = req.headers['if-match'];
  if (im !== undefined && !ifMatch(im, current)) {
    throw new HttpProblem(
      412,
      ProblemCode.PRECONDITION_FAILED,
      current
        ? `workflow "${id}" changed: its current ETag is ${strongTag(current)}`
        : `workflow "${id}" does not exist yet`,
      current ? { currentEtag: strongTag(current) } : {},
    );
  }
  if (req.headers['if-none-match']?.trim() === '*' && current) {
    throw new HttpProblem(412, ProblemCode.PRECONDITION_FAILED, `workflow "${id}" already exists`, {
      currentEtag: strongTag(current),
    });
  }
  let same = await ctx.store.getDefinition(id, workflow.version);
  let status = 201;
  if (same && same.hash !== workflow.hash) {
    // `orchestr8 run` stores an edited document whose version was not bumped as
    // `<version>+sha.<hash>`: the same content PUT here is that definition, not a conflict.
    const stored = await ctx.store.getDefinitionByHash(workflow.hash);
    if (stored?.id !== id) throw versionTaken(id, workflow.version, workflow.hash, same);
    same = stored;
  }
  if (same) status = 200;
  else {
    try {
      await ctx.store.putDefinition({
        id,
        version: workflow.version,
        hash: workflow.hash,
        document: workflow.document,
        createdAt: Date.now(),
      });
    } catch (e) {
      if (hasCode(e, ErrorCode.CONFLICT))
        throw new HttpProblem(409, ProblemCode.CONFLICT, (e as Error).message);
      throw e;
    }
  }
  ctx.resolver.invalidate(id);
  const latest = (await ctx.store.getDefinition(id))!;
  res.setHeader('ETag', strongTag(latest));
  const version = same?.version ?? workflow.version;
  res.setHeader('Location', `/workflows/${encodeURIComponent(id)}?version=${encodeURIComponent(version)}`);
  res.status(status).json({
    ...describe((await ctx.store.getDefinition(id, version))!),
    latestVersion: latest.version,
  });
}

/** 409 for new content under a stored version: what is stored, and how to go on. */
function versionTaken(id: string, version: string, hash: string, stored: DefinitionRecord): HttpProblem {
  const semver = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  const next = semver ? `${semver[1]}.${semver[2]}.${Number(semver[3]) + 1}` : undefined;
  return new HttpProblem(
    409,
    ProblemCode.CONFLICT,
    `workflow "${id}" version "${version}" is already stored with other content (hash ${stored.hash.slice(0, 12)}, ` +
      `stored ${new Date(stored.createdAt).toISOString()}, by a PUT or by \`orchestr8 run\` of an earlier ` +
      `copy of the document); a version names one content. To register this content, bump the document's ` +
      `\`version\`${next ? ` (e.g. to "${next}")` : ''}. (\`orchestr8 run\` of this document stores it as ` +
      `"${version}+sha.${hash.slice(0, 12)}" instead.)`,
    { workflowVersion: version, storedHash: stored.hash, hash },
  );
}

async function list(ctx: ServerContext, _req: Request, res: Response): Promise<void> {
  const byId = new Map<string, DefinitionRecord[]>();
  for (const d of await ctx.store.listDefinitions()) {
    const l = byId.get(d.id);
    if (l) l.push(d);
    else byId.set(d.id, [d]);
  }
  const items = [];
  for (const [id, versions] of byId) {
    const latest = await ctx.store.getDefinition(id);
    items.push({ id, latestVersion: latest?.version, versions: versions.map(describe) });
  }
  res.json({ items });
}

async function get(
  ctx: ServerContext,
  { params, query }: RequestInput<typeof getWorkflow>,
  req: Request,
  res: Response,
): Promise<void> {
  const id = params.id;
  const version = query.version;
  const def = await ctx.store.getDefinition(id, version);
  if (!def) {
    throw new HttpProblem(
      404,
      ProblemCode.NOT_FOUND,
      version === undefined
        ? `no workflow "${id}" is registered`
        : `workflow "${id}" has no version "${version}"`,
    );
  }
  const tag = strongTag(def);
  res.setHeader('ETag', tag);
  if (noneMatch(req, tag)) {
    res.status(304).end();
    return;
  }
  res.json({ ...describe(def), document: def.document });
}

/**
 * Every version of a workflow, oldest first, and which is the newest (the console's picker).
 * Apart from `GET /workflows/:id`, whose ETag is one version's content hash (for If-Match)
 * and so cannot also vouch for the list.
 */
async function versions(ctx: ServerContext, req: Request, res: Response): Promise<void> {
  const id = String(req.params.id);
  const all = (await ctx.store.listDefinitions()).filter((d) => d.id === id);
  if (all.length === 0)
    throw new HttpProblem(404, ProblemCode.NOT_FOUND, `no workflow "${id}" is registered`);
  const latest = await ctx.store.getDefinition(id);
  res.json({ id, latestVersion: latest?.version, versions: all.map(describe) });
}
