import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiClient, ApiError, type Doc } from '../lib/api-client.js';
import { EventFeed, type FeedState } from '../lib/event-feed.js';
import { AuthBar } from './auth-bar.js';
import { useHashRoute } from './hooks.js';
import { Overview } from './overview.js';
import { Problem } from './problem.js';
import { SessionPage } from './session-page.js';

const TOKEN_KEY = 'eb-token';

/** The token lives in this tab's sessionStorage only: never in a URL, a cookie or a log. */
function storedToken(): string | undefined {
  try { return sessionStorage.getItem(TOKEN_KEY) ?? undefined; } catch { return undefined; }
}
function storeToken(token: string | undefined): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage refused: the token lasts as long as the page */ }
}

type Auth = { state: 'checking' } | { state: 'ok'; sites: Doc[] } | { state: 'needed'; error: ApiError } | { state: 'failed'; error: unknown };

/**
 * The page: who the viewer is (a token, or anonymous where the broker runs without one), the
 * overview (timelines, the request form, the sessions) and a session's own page, by hash route.
 * Everything shown comes from the API for the viewer's token: the API decides what they see.
 */
export function App() {
  const [token, setToken] = useState(storedToken());
  const api = useMemo(() => new ApiClient(token), [token]);
  const feed = useMemo(() => new EventFeed(api), [api]);
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const [feedState, setFeedState] = useState<FeedState>('connecting');
  const route = useHashRoute();

  useEffect(() => {
    let current = true;
    api.onUnauthenticated = (error) => { if (current) setAuth({ state: 'needed', error }); };
    setAuth({ state: 'checking' });
    api.sites().then(
      (body) => { if (current) setAuth({ state: 'ok', sites: body.sites as Doc[] }); },
      (error: unknown) => { if (current) setAuth(error instanceof ApiError && error.unauthenticated ? { state: 'needed', error } : { state: 'failed', error }); },
    );
    return () => { current = false; };
  }, [api]);

  useEffect(() => {
    if (auth.state !== 'ok') return undefined;
    const stop = feed.onState(setFeedState);
    feed.start();
    return () => { stop(); feed.stop(); };
  }, [feed, auth.state]);

  const useToken = (value: string | undefined): void => {
    storeToken(value);
    setToken(value);
  };

  const sessionMatch = /^#\/sessions\/([0-9a-fA-F-]{36})$/.exec(route);
  return (
    <div class="page">
      <header class="top">
        <h1><a href="#/">SRCNet ExecutionBroker</a></h1>
        <AuthBar api={api} hasToken={Boolean(token)} signedIn={auth.state === 'ok'} onToken={useToken} />
        <span class={`feed feed-${feedState}`} role="status" aria-live="polite">
          {auth.state !== 'ok' ? '' : feedState === 'live' ? 'Live' : feedState === 'connecting' ? 'Connecting…' : feedState === 'unauthenticated' ? 'Updates need a token' : 'Reconnecting…'}
        </span>
      </header>
      <main>
        {auth.state === 'checking' ? <p class="loading">Asking the broker…</p> : null}
        {auth.state === 'needed' ? (
          <section class="token-needed" aria-labelledby="token-needed-title">
            <h2 id="token-needed-title">This broker needs a token</h2>
            <p>{auth.error.detail || 'Requests need a bearer token.'}</p>
            <p>Paste an access token for the broker in the <strong>Token</strong> field above. It is kept in this tab only, and sent only to this broker.</p>
            {token ? <Problem error={auth.error} what="The token was refused" /> : null}
          </section>
        ) : null}
        {auth.state === 'failed' ? <Problem error={auth.error} what="The broker did not answer" /> : null}
        {auth.state === 'ok' ? (
          sessionMatch ? <SessionPage key={sessionMatch[1]} api={api} feed={feed} uuid={sessionMatch[1]!.toLowerCase()} />
            : <Overview api={api} feed={feed} sites={auth.sites} />
        ) : null}
      </main>
    </div>
  );
}
