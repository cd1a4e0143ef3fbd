import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiClient, ApiError, type Doc } from '../lib/api-client.js';
import { EventFeed, type FeedState } from '../lib/event-feed.js';
import { AuthBar } from './auth-bar.js';
import { useHashRoute } from './hooks.js';
import { Overview } from './overview.js';
import { Problem } from './problem.js';
import { SessionPage } from './session-page.js';

type Auth = { state: 'checking' } | { state: 'ok'; sites: Doc[] } | { state: 'needed'; error: ApiError } | { state: 'failed'; error: unknown };

/**
 * The page: who the viewer is (their login, or anonymous where the broker runs without one), the
 * overview (timelines, the request form, the sessions) and a session's own page, by hash route.
 * Everything shown comes from the API for the viewer's login: the API decides what they see.
 */
export function App() {
  const api = useMemo(() => new ApiClient(), []);
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

  const sessionMatch = /^#\/sessions\/([0-9a-fA-F-]{36})$/.exec(route);
  return (
    <div class="page">
      <header class="top">
        <h1><a href="#/">SRCNet ExecutionBroker</a></h1>
        <AuthBar api={api} signedIn={auth.state === 'ok'} needed={auth.state === 'needed'} />
        <span class={`feed feed-${feedState}`} role="status" aria-live="polite">
          {auth.state !== 'ok' ? '' : feedState === 'live' ? 'Live' : feedState === 'connecting' ? 'Connecting…' : feedState === 'unauthenticated' ? 'Updates need a login' : 'Reconnecting…'}
        </span>
      </header>
      <main>
        {auth.state === 'checking' ? <p class="loading">Asking the broker…</p> : null}
        {auth.state === 'needed' ? (
          <section class="login-needed" aria-labelledby="login-needed-title">
            <h2 id="login-needed-title">Log in to use this broker</h2>
            <p>{auth.error.detail || 'Requests need a login.'}</p>
            <p><a class="login" href={`/login${location.hash ? `?then=${encodeURIComponent(location.hash)}` : ''}`}>Log in</a> with your account at the identity provider; you come back here. Scripts use bearer tokens, as before.</p>
            {auth.error.code && auth.error.code !== 'authentication-required' ? <Problem error={auth.error} what="The login was refused" /> : null}
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
