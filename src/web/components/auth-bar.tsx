import { useState } from 'preact/hooks';
import type { ApiClient } from '../lib/api-client.js';

/** Who the page acts for, and the token field (a password field: not shown, not autocompleted). */
export function AuthBar({ api, hasToken, signedIn, onToken }: { api: ApiClient; hasToken: boolean; signedIn: boolean; onToken: (token: string | undefined) => void }) {
  const [draft, setDraft] = useState('');
  const who = signedIn ? (api.subject ? `Signed in as ${api.subject}` : 'Anonymous (this broker runs without authentication)') : '';
  return (
    <div class="auth">
      {who ? <span class="who">{who}</span> : null}
      {hasToken ? <button type="button" onClick={() => onToken(undefined)}>Forget token</button> : null}
      {!signedIn || hasToken ? (
        <form class="token-form" onSubmit={(event) => { event.preventDefault(); if (draft.trim()) { onToken(draft.trim()); setDraft(''); } }}>
          <label for="token">Token</label>
          <input id="token" type="password" autocomplete="off" spellcheck={false} value={draft}
            placeholder={hasToken ? 'Another token' : 'Paste a bearer token'} onInput={(event) => setDraft((event.target as HTMLInputElement).value)} />
          <button type="submit">Use token</button>
        </form>
      ) : null}
    </div>
  );
}
