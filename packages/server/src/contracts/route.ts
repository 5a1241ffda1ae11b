import type { Request, RequestHandler, Response } from 'express';
import type { RouteDef } from '../context.js';
import type { RequestInput, RouteContract } from './contract.js';
import { parseRequest } from './validate.js';

export type ContractHandler<C extends RouteContract> = (
  input: RequestInput<C>,
  req: Request,
  res: Response,
) => Promise<void> | void;

/**
 * An express handler that parses the request by `contract` (400 naming the field when it does
 * not fit) and then calls `handler` with the parsed parameters, query and body. For routers of
 * other packages; the server's own routes use `route`.
 */
export function validated<C extends RouteContract>(contract: C, handler: ContractHandler<C>): RequestHandler {
  return (req, res) => handler(parseRequest(contract, req), req, res);
}

/** A route of the server's table, from its contract. */
export function route<C extends RouteContract>(contract: C, handler: ContractHandler<C>): RouteDef {
  return {
    method: contract.method as RouteDef['method'],
    path: contract.path,
    handler: validated(contract, handler),
    contract,
  };
}
