/** Liveness, readiness, this document, metrics and workers. */
import { z } from 'zod';
import { defineRoute, json, problem } from './contract.js';

const tags = ['System'];

export const healthz = defineRoute({
  method: 'get',
  path: '/healthz',
  operationId: 'healthz',
  summary: 'Liveness: the process is up',
  tags,
  public: true,
  responses: { '200': json('Alive', z.object({ status: z.literal('ok').optional() })) },
});

export const readyz = defineRoute({
  method: 'get',
  path: '/readyz',
  operationId: 'readyz',
  summary: 'Readiness: the store is reachable and migrated, and the server is not shutting down',
  tags,
  public: true,
  responses: {
    '200': json('Ready', z.object({ status: z.literal('ready').optional(), store: z.string().optional() })),
    '503': problem('Not ready (code NOT_READY or SHUTTING_DOWN)'),
  },
});

export const openapi = defineRoute({
  method: 'get',
  path: '/openapi.json',
  operationId: 'openapi',
  summary: 'This document',
  tags,
  public: true,
  responses: { '200': json('The OpenAPI 3.1 document', z.looseObject({})) },
});

export const metrics = defineRoute({
  method: 'get',
  path: '/metrics',
  operationId: 'metrics',
  summary: 'Prometheus metrics',
  tags,
  description:
    'The Prometheus text exposition: executions and steps by status, step and execution durations, retries, ' +
    'circuit states, event-bus drops, in-flight executions and steps, store write latency. Enabled by the host ' +
    '(`orchestr8 serve` always enables it); 404 otherwise. Needs an API key when keys are configured.',
  responses: {
    '200': {
      description: 'Metrics in the Prometheus text format',
      content: { 'text/plain; version=0.0.4; charset=utf-8': z.string() },
    },
    '404': problem('Metrics are not enabled on this server'),
  },
});

export const listWorkers = defineRoute({
  method: 'get',
  path: '/workers',
  operationId: 'listWorkers',
  summary: 'Live workers',
  tags,
  description:
    'Workers (`orchestr8 worker`) with their heartbeats and the steps they hold, and the depth of each queue. ' +
    'Only with a PostgreSQL store; 404 otherwise. Needs an API key when keys are configured.',
  responses: {
    '200': json(
      'Workers and queues',
      z.object({
        workers: z.array(z.looseObject({})),
        queues: z.array(
          z.object({
            queue: z.string().optional(),
            ready: z.number().int().optional(),
            leased: z.number().int().optional(),
          }),
        ),
      }),
    ),
    '404': problem('Workers exist only with a PostgreSQL store'),
  },
});

export const systemContracts = [healthz, readyz, openapi, metrics, listWorkers];
