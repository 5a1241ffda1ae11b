/** The page's client routes, all under /console (the API never uses that prefix). */
export type Route =
  | { page: 'executions' }
  | { page: 'execution'; id: string }
  | { page: 'workflows' }
  | { page: 'workflow'; id: string }
  | { page: 'workers' }
  | { page: 'approvals' }
  | { page: 'schedules' }
  | { page: 'not-found'; path: string };

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/' || path === '/console' || path === '/console/executions') return { page: 'executions' };
  const parts = path.split('/').slice(1);
  if (parts[0] !== 'console') return { page: 'not-found', path };
  const [, section, id] = parts;
  const decoded = id !== undefined ? decodeURIComponent(id) : undefined;
  if (section === 'executions' && decoded) return { page: 'execution', id: decoded };
  if (section === 'workflows') return decoded ? { page: 'workflow', id: decoded } : { page: 'workflows' };
  if (section === 'workers' && !decoded) return { page: 'workers' };
  if (section === 'approvals' && !decoded) return { page: 'approvals' };
  if (section === 'schedules' && !decoded) return { page: 'schedules' };
  return { page: 'not-found', path };
}

export const href = {
  executions: (query = '') => `/console/executions${query ? `?${query}` : ''}`,
  execution: (id: string) => `/console/executions/${encodeURIComponent(id)}`,
  workflows: () => '/console/workflows',
  workflow: (id: string) => `/console/workflows/${encodeURIComponent(id)}`,
  workers: () => '/console/workers',
  approvals: () => '/console/approvals',
  schedules: () => '/console/schedules',
};
