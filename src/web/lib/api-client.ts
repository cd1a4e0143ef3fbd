/**
 * The page's client of the broker's API: the same resources every client uses, with the viewer's
 * bearer token in the Authorization header (never in a URL). Errors come back as ApiError, with
 * the problem document's words.
 */
export type Doc = Record<string, any>;

export class ApiError extends Error {
  constructor(readonly status: number, readonly title: string, readonly detail: string, readonly code?: string, readonly reasons: string[] = []) {
    super(detail || title);
  }
  get unauthenticated(): boolean { return this.status === 401; }
}

/** What the API says about a failure, in plain words (problem documents, or whatever came back). */
async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  try {
    const problem = JSON.parse(text) as Doc;
    return new ApiError(response.status, String(problem.title ?? response.statusText), String(problem.detail ?? ''), problem.code as string | undefined,
      Array.isArray(problem.errors) ? (problem.errors as unknown[]).map(String) : []);
  } catch {
    return new ApiError(response.status, response.statusText || `HTTP ${response.status}`, text.slice(0, 500));
  }
}

export interface SessionFilter { phases?: readonly string[]; site?: string; owner?: string; limit?: number; cursor?: string }

export class ApiClient {
  /** Told of every 401, so that the page can ask for a token. */
  onUnauthenticated: (error: ApiError) => void = () => undefined;
  /** The subject the broker says the requests act for (X-VO-Authenticated), once known. */
  subject: string | undefined;

  constructor(private token?: string) {}

  setToken(token: string | undefined): void { this.token = token; }
  get hasToken(): boolean { return Boolean(this.token); }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Accept: 'application/json', ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  /** A request with the viewer's token; throws ApiError unless the answer is 2xx. */
  async send(path: string, init: RequestInit = {}): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(path, { ...init, headers: this.headers(init.headers as Record<string, string> | undefined), cache: 'no-store' });
    } catch (cause) {
      throw new ApiError(0, 'The broker cannot be reached', String((cause as Error).message ?? cause));
    }
    const subject = response.headers.get('X-VO-Authenticated');
    if (subject) this.subject = subject;
    if (!response.ok) {
      const error = await errorOf(response);
      if (error.unauthenticated) this.onUnauthenticated(error);
      throw error;
    }
    return response;
  }

  async json(path: string, init: RequestInit = {}): Promise<Doc> {
    return (await (await this.send(path, init)).json()) as Doc;
  }

  /** The sites, without the hour-by-hour outlook (the catalogue panel asks for that itself). */
  sites(): Promise<Doc> { return this.json('/sites?hours=0'); }

  timeline(site: string, from: number, to: number): Promise<Doc> {
    const query = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString() });
    return this.json(`/sites/${encodeURIComponent(site)}/timeline?${query}`);
  }

  sessions(filter: SessionFilter): Promise<Doc> {
    const query = new URLSearchParams();
    if (filter.phases?.length) query.set('phase', filter.phases.join(','));
    if (filter.site) query.set('site', filter.site);
    if (filter.owner) query.set('owner', filter.owner);
    if (filter.limit) query.set('limit', String(filter.limit));
    if (filter.cursor) query.set('cursor', filter.cursor);
    return this.json(`/sessions?${query}`);
  }

  session(uuid: string): Promise<Doc> { return this.json(`/sessions/${uuid}`); }
  history(uuid: string): Promise<Doc> { return this.json(`/sessions/${uuid}/history`); }
  outputs(uuid: string): Promise<Doc> { return this.json(`/sessions/${uuid}/outputs`); }
  async log(uuid: string): Promise<string> { return (await this.send(`/sessions/${uuid}/logs`, { headers: { Accept: 'text/plain' } })).text(); }

  /** Ends the login (POST /logout, with the cookie): where to send the browser next. */
  async logout(): Promise<string> {
    const answer = await this.json('/logout', { method: 'POST' });
    return typeof answer.location === 'string' ? answer.location : '/';
  }

  /**
   * POST /requests: the offer set, answered 201 (`Prefer: return=representation`) rather than a 303
   * that fetch would follow, losing its headers: the webhook's signing secret (given this once).
   */
  async requestOffers(request: Doc): Promise<{ offerSet: Doc; webhookSecret?: string }> {
    const answer = await this.send('/requests', { method: 'POST', headers: { 'Content-Type': 'application/json', Prefer: 'return=representation' }, body: JSON.stringify(request) });
    const secret = answer.headers.get('Webhook-Secret');
    return { offerSet: (await answer.json()) as Doc, ...(secret ? { webhookSecret: secret } : {}) };
  }

  /** Accept, reject or cancel. */
  changePhase(uuid: string, phase: 'ACCEPTED' | 'REJECTED' | 'CANCELLED'): Promise<Doc> {
    return this.json(`/sessions/${uuid}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ kind: 'uri:enum-value-update', path: '/phase', value: phase }) });
  }

  /**
   * Follows a session's log (`?follow=true`, one streamed response that ends with the session),
   * handing each piece of text to `onText`. Resolves when the stream ends.
   */
  async followLog(uuid: string, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
    const response = await this.send(`/sessions/${uuid}/logs?follow=true`, { headers: { Accept: 'text/plain' }, signal });
    if (!response.body) { onText(await response.text()); return; }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (value) onText(value);
    }
  }

  /** An output file, fetched with the token (a plain link could not send it) and handed to the browser to save. */
  async download(url: string, name: string): Promise<void> {
    const blob = await (await this.send(new URL(url, location.href).pathname, { headers: { Accept: '*/*' } })).blob();
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }
}
