import { ApiError } from '../lib/api-client.js';

/** An API failure, in the API's own words (the problem document's title, detail and reasons). */
export function Problem({ error, what }: { error: unknown; what?: string }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : undefined;
  return (
    <div class="problem" role="alert">
      <strong>{what ? `${what}: ` : ''}{api ? api.title : 'Something went wrong'}</strong>
      {api?.status ? <span class="status"> (HTTP {api.status}{api.code ? `, ${api.code}` : ''})</span> : null}
      <div>{api ? api.detail : String((error as Error)?.message ?? error)}</div>
      {api && api.reasons.length > 0 ? <ul>{api.reasons.map((reason) => <li key={reason}>{reason}</li>)}</ul> : null}
    </div>
  );
}
