import { useEffect, useState } from 'preact/hooks';
import type { ApiClient, Doc } from '../lib/api-client.js';
import type { EventFeed } from '../lib/event-feed.js';
import { BROKER_CONNECTORS, openableUrl, shownUrl } from '../lib/connectors.js';
import { costLines } from '../lib/cost-items.js';
import { dateTime, duration, isoDuration, startOf } from '../lib/format.js';
import { TERMINAL_PHASES } from '../lib/phases.js';
import { useDebounced } from './hooks.js';
import { LogView } from './log-view.js';
import { OutputsView } from './outputs-view.js';
import { PhaseBadge } from './phase-badge.js';
import { Problem } from './problem.js';

const CONNECTOR_NAMES: Record<string, string> = {
  ...BROKER_CONNECTORS,
  'urn:srcnet:connector:port': 'Port',
};

/**
 * One connector. The broker's own (log, outputs) as links to themselves; a service's (a port, a
 * notebook server) shown without its query, and, while AVAILABLE over HTTP(S), an Open link to the
 * whole URL (its token included) in a new tab that learns nothing of this page.
 */
function Connector({ connector }: { connector: Doc }) {
  const kind = connector.kind as string;
  const location = typeof connector.location === 'string' ? connector.location : undefined;
  // A kind the page does not know yet (a notebook server's, say) by the last word of its URN.
  const name = CONNECTOR_NAMES[kind] ?? ((/^urn:srcnet:connector:([a-z0-9-]+)$/i.exec(kind)?.[1] ?? kind).replace(/^./, (first) => first.toUpperCase()));
  const label = `${name} (${connector.protocol}, ${connector.status})`;
  if (!location) return <li data-kind={kind}>{label} no address yet</li>;
  if (BROKER_CONNECTORS[kind]) return <li data-kind={kind}>{label} <a href={location} target="_blank" rel="noopener noreferrer">{location}</a></li>;
  const shown = shownUrl(location) ?? 'an address that is not a URL';
  const open = openableUrl(connector);
  return (
    <li data-kind={kind}>
      {label}{' '}
      {open ? <a class="open" href={open} target="_blank" rel="noopener noreferrer" aria-label={`Open ${shown} in a new tab`}>Open</a> : null}
      <code class="connector-url">{shown}</code>
    </li>
  );
}

/**
 * One session: its phase (live), schedule, phase history, connectors, who is told of it (srcnet.notify), messages, log (followed
 * while it runs) and outputs, and a cancel button while it may be cancelled.
 */
export function SessionPage({ api, feed, uuid }: { api: ApiClient; feed: EventFeed; uuid: string }) {
  const [session, setSession] = useState<Doc | undefined>(undefined);
  const [history, setHistory] = useState<Doc[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  const load = (): void => {
    Promise.all([api.session(uuid), api.history(uuid)]).then(([doc, changes]) => {
      setError(undefined);
      setSession(doc);
      setHistory(changes.history as Doc[]);
    }, setError);
  };
  const reload = useDebounced(load, 100);
  useEffect(load, [uuid, api]);
  useEffect(() => feed.on((event) => { if (event.type === 'resync' || event.notice.uuid === uuid) reload(); }), [feed, uuid]);

  if (!session) {
    return (
      <section class="panel session-page">
        <p><a href="#/">← Overview</a></p>
        {error ? <Problem error={error} what="The session could not be read" /> : <p class="loading">Reading the session…</p>}
      </section>
    );
  }
  const phase = session.phase as string;
  const options = ((session.meta?.options as Doc[] | undefined) ?? []).flatMap((option) => option.values as string[]);
  const cancel = async (): Promise<void> => {
    setBusy(true);
    setActionError(undefined);
    try { setSession(await api.changePhase(uuid, 'CANCELLED')); } catch (failure) { setActionError(failure); } finally { setBusy(false); }
  };
  const schedule = session.schedule as Doc | undefined;
  const site = /site (\S+)$/.exec(String(session.meta?.description ?? ''))?.[1];
  const compute = session.compute as Doc | undefined;
  const gpu = compute?.['srcnet.gpu'] as Doc | undefined;
  return (
    <article class="session-page" data-phase={phase} aria-labelledby="session-title">
      <p><a href="#/">← Overview</a></p>
      <h2 id="session-title">{session.meta?.name ?? 'Session'} <PhaseBadge phase={phase} /></h2>
      <p class="uuid">{uuid}{site ? ` · site ${site}` : ''}{compute ? ` · ${compute.cores?.min} cores, ${compute.memory?.min} GiB${gpu ? `, ${gpu.count} ${gpu.model}` : ''}` : ''}</p>
      <Problem error={error} what="The session could not be read again" />
      {options.includes('CANCELLED') ? (
        <p><button type="button" class="danger" disabled={busy} onClick={() => { void cancel(); }}>Cancel this session</button></p>
      ) : null}
      <Problem error={actionError} />
      <div class="columns">
        <section class="panel" aria-labelledby="schedule-title">
          <h3 id="schedule-title">Schedule</h3>
          {schedule ? (
            <table>
              <thead><tr><th scope="col">Phase</th><th scope="col">Starts</th><th scope="col">Lasts</th></tr></thead>
              <tbody>
                {(['preparing', 'available', 'releasing'] as const).map((part) => schedule[part] ? (
                  <tr key={part}><td>{part}</td><td>{dateTime(startOf(schedule[part].start as string))}</td><td>{duration(isoDuration(schedule[part].duration as string))}</td></tr>
                ) : null)}
              </tbody>
            </table>
          ) : <p>No schedule.</p>}
          {phase === 'OFFERED' && session.expires ? <p>The offer expires at {dateTime(session.expires as string)}.</p> : null}
          {costLines(compute).length ? <p class="quote">Quoted: {costLines(compute).join(', ')}.</p> : null}
          {TERMINAL_PHASES.includes(phase) && session.costs && JSON.stringify(session.costs) !== JSON.stringify(compute?.costs) ? (
            <p class="used">Used: {costLines(session).join(', ')}.</p>
          ) : null}
        </section>
        <section class="panel" aria-labelledby="history-title">
          <h3 id="history-title">Phase history</h3>
          <ol class="history">
            {history.map((change, index) => <li key={index} data-phase={change.phase}><PhaseBadge phase={change.phase as string} /> {dateTime(change.at as string)}</li>)}
          </ol>
        </section>
        <section class="panel" aria-labelledby="connectors-title">
          <h3 id="connectors-title">Connectors</h3>
          {((session.connectors as Doc[] | undefined) ?? []).length === 0 ? <p>None yet.</p> : (
            <ul>
              {(session.connectors as Doc[]).map((connector, index) => <Connector key={index} connector={connector} />)}
            </ul>
          )}
        </section>
        {((session['srcnet.notify'] as Doc[] | undefined) ?? []).length ? (
          <section class="panel" aria-labelledby="notify-title">
            <h3 id="notify-title">Told of</h3>
            <ul class="subscriptions">
              {(session['srcnet.notify'] as Doc[]).map((subscription, index) => (
                <li key={index} data-target={subscription.target}>
                  <strong>{String(subscription.target).replace(/^mailto:/, '')}</strong>: {(subscription.events as string[]).map((event) => event.toLowerCase()).join(', ')}
                </li>
              ))}
            </ul>
          </section>
        ) : null}
      </div>
      <LogView api={api} uuid={uuid} phase={phase} />
      {phase === 'COMPLETED' ? <OutputsView api={api} uuid={uuid} /> : null}
      {((session.meta?.messages as Doc[] | undefined) ?? []).length ? (
        <section class="panel" aria-labelledby="messages-title">
          <h3 id="messages-title">Messages</h3>
          <ul class="messages">
            {(session.meta.messages as Doc[]).map((message, index) => (
              <li key={index} class={`level-${String(message.level).toLowerCase()}`}>{message.time ? `${dateTime(message.time as string)} ` : ''}{message.level}: {message.message}</li>
            ))}
          </ul>
        </section>
      ) : null}
      {TERMINAL_PHASES.includes(phase) ? null : <p class="hint">This page follows the session as it changes.</p>}
    </article>
  );
}
