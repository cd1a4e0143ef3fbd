import type { ApiClient } from '../lib/api-client.js';

/**
 * Who the page acts for, and the way in and out: "Log in" sends the browser to the broker's login
 * (the identity provider's form, then back here); "Log out" ends it there too. The page never
 * holds a token: the broker keeps the login's tokens and the browser an HttpOnly cookie.
 */
export function AuthBar({ api, signedIn, needed }: { api: ApiClient; signedIn: boolean; needed: boolean }) {
  const who = signedIn ? (api.subject ? `Signed in as ${api.subject}` : 'Anonymous (this broker runs without authentication)') : '';
  const loginHref = `/login${location.hash ? `?then=${encodeURIComponent(location.hash)}` : ''}`;
  return (
    <div class="auth">
      {who ? <span class="who">{who}</span> : null}
      {signedIn && api.subject ? <button type="button" onClick={() => { void api.logout().then((to) => location.assign(to)); }}>Log out</button> : null}
      {needed ? <a class="login" href={loginHref}>Log in</a> : null}
    </div>
  );
}
