import { lazy, type ReactElement, StrictMode, Suspense, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { ExecutionsPage } from './executions/executions-page.js';
import { createApi, localKeyStore } from './lib/api.js';
import { Link, useLocation } from './lib/router.js';
import { parseRoute } from './lib/routes.js';
import { ApiContext } from './lib/use-api.js';
import { ApprovalsPage } from './operations/approvals-page.js';
import { SchedulesPage } from './operations/schedules-page.js';
import { WorkersPage } from './operations/workers-page.js';
import './styles.css';

// The graph renderer and layout (most of the bundle) load with the pages that draw graphs.
const ExecutionPage = lazy(() =>
  import('./execution/execution-page.js').then((m) => ({ default: m.ExecutionPage })),
);
const WorkflowsPage = lazy(() =>
  import('./workflows/workflows-page.js').then((m) => ({ default: m.WorkflowsPage })),
);
const WorkflowPage = lazy(() =>
  import('./workflows/workflows-page.js').then((m) => ({ default: m.WorkflowPage })),
);

const keys = localKeyStore(window.localStorage);

/** Asks for the key; `refused` when the server turned down the key that was sent. */
function KeyPrompt({ onSaved, refused }: { onSaved: () => void; refused: boolean }) {
  const [key, setKey] = useState('');
  return (
    <form
      className="panel"
      style={{ maxWidth: 480 }}
      onSubmit={(e) => {
        e.preventDefault();
        keys.set(key.trim());
        onSaved();
      }}
    >
      <h2>API key</h2>
      <p>
        This server requires an API key. It is kept in this browser (localStorage) and sent with every
        request.
      </p>
      {refused ? (
        <p className="error" role="alert" data-testid="key-refused">
          The server refused the key this browser sent (401 Unauthorized): check it and enter it again.
        </p>
      ) : null}
      <label className="field">
        API key
        <input
          type="password"
          autoComplete="off"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          required
        />
      </label>
      <button type="submit" className="primary">
        Save
      </button>
    </form>
  );
}

const NAV: [string, string, string[]][] = [
  ['Executions', '/console/executions', ['executions', 'execution']],
  ['Workflows', '/console/workflows', ['workflows', 'workflow']],
  ['Approvals', '/console/approvals', ['approvals']],
  ['Schedules', '/console/schedules', ['schedules']],
  ['Workers', '/console/workers', ['workers']],
];

function App() {
  const { pathname } = useLocation();
  const [needKey, setNeedKey] = useState(false);
  const [keyRefused, setKeyRefused] = useState(false);
  const [epoch, setEpoch] = useState(0);
  // A new client after a key is saved: every page reloads with it.
  // biome-ignore lint/correctness/useExhaustiveDependencies: epoch renews the client on purpose
  const api = useMemo(
    () =>
      createApi(keys, {
        onUnauthorized: ({ sentKey }) => {
          setKeyRefused(sentKey);
          setNeedKey(true);
        },
      }),
    [epoch],
  );
  const route = parseRoute(pathname);
  let page: ReactElement;
  switch (route.page) {
    case 'executions':
      page = <ExecutionsPage />;
      break;
    case 'execution':
      page = <ExecutionPage key={route.id} id={route.id} />;
      break;
    case 'workflows':
      page = <WorkflowsPage />;
      break;
    case 'workflow':
      page = <WorkflowPage key={route.id} id={route.id} />;
      break;
    case 'workers':
      page = <WorkersPage />;
      break;
    case 'approvals':
      page = <ApprovalsPage />;
      break;
    case 'schedules':
      page = <SchedulesPage />;
      break;
    default:
      page = (
        <p>
          No page at <code>{route.path}</code>. <Link href="/console/executions">Executions</Link>
        </p>
      );
  }
  return (
    <ApiContext.Provider value={api}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <div className="layout">
        <nav className="side" aria-label="Sections">
          <h1>orchestr8</h1>
          <ul>
            {NAV.map(([label, to, pages]) => (
              <li key={to}>
                <Link href={to} aria-current={pages.includes(route.page) ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
          {keys.get() ? (
            <p>
              <button
                type="button"
                onClick={() => {
                  keys.set(undefined);
                  setEpoch((n) => n + 1);
                }}
              >
                Forget API key
              </button>
            </p>
          ) : null}
        </nav>
        <main id="main" key={epoch}>
          {needKey ? (
            <KeyPrompt
              refused={keyRefused}
              onSaved={() => {
                setNeedKey(false);
                setEpoch((n) => n + 1);
              }}
            />
          ) : (
            <Suspense fallback={<p className="muted">Loading…</p>}>{page}</Suspense>
          )}
        </main>
      </div>
    </ApiContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
