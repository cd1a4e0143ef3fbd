import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiClient, Doc } from '../lib/api-client.js';
import type { EventFeed } from '../lib/event-feed.js';
import { dateTime, duration, isoDuration, startOf } from '../lib/format.js';
import { PHASE_FILTERS } from '../lib/phases.js';
import { markOnce, useDebounced } from './hooks.js';
import { PhaseBadge } from './phase-badge.js';
import { Problem } from './problem.js';

const PAGE = 50;

/**
 * The viewer's sessions (an operator's: everyone's), newest first, filtered by phase and site,
 * a page at a time; read again on every notice (once per burst) so that phases change live.
 */
export function SessionList({ api, feed, sites }: { api: ApiClient; feed: EventFeed; sites: Doc[] }) {
  const [filter, setFilter] = useState(PHASE_FILTERS[0]!.id);
  const [site, setSite] = useState('');
  const [shown, setShown] = useState(PAGE);
  const [sessions, setSessions] = useState<Doc[] | undefined>(undefined);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const ticket = useRef(0);

  const load = (): void => {
    const mine = ++ticket.current;
    const phases = PHASE_FILTERS.find((choice) => choice.id === filter)?.phases;
    api.sessions({ ...(phases ? { phases } : {}), ...(site ? { site } : {}), limit: shown }).then((page) => {
      if (mine !== ticket.current) return;
      setError(undefined);
      setSessions(page.sessions as Doc[]);
      setMore(Boolean(page.next));
    }, (failure: unknown) => { if (mine === ticket.current) setError(failure); });
  };
  const reload = useDebounced(load, 150);
  useEffect(load, [filter, site, shown, api]);
  useEffect(() => feed.on(() => reload()), [feed]);
  useEffect(() => { if (sessions) markOnce('eb:list-ready'); }, [sessions]);

  const others = Boolean(sessions?.some((session) => session.owner !== (api.subject ?? 'anonymous')));
  return (
    <section class="panel sessions" aria-labelledby="sessions-title" data-count={sessions?.length ?? -1}>
      <div class="panel-head">
        <h2 id="sessions-title">Sessions</h2>
        <div class="filters">
          <label>Show{' '}
            <select value={filter} onChange={(event) => { setFilter((event.target as HTMLSelectElement).value); setShown(PAGE); }}>
              {PHASE_FILTERS.map((choice) => <option key={choice.id} value={choice.id}>{choice.label}</option>)}
            </select>
          </label>
          <label>Site{' '}
            <select value={site} onChange={(event) => { setSite((event.target as HTMLSelectElement).value); setShown(PAGE); }}>
              <option value="">every site</option>
              {sites.map((entry) => <option key={entry.name} value={entry.name}>{entry.name}</option>)}
            </select>
          </label>
        </div>
      </div>
      <Problem error={error} what="The sessions could not be read" />
      {sessions === undefined ? <p class="loading">Reading…</p> : sessions.length === 0 ? <p>No sessions to show.</p> : (
        <table>
          <caption class="visually-hidden">Sessions, newest first</caption>
          <thead>
            <tr><th scope="col">Session</th><th scope="col">Phase</th><th scope="col">Site</th>{others ? <th scope="col">Owner</th> : null}<th scope="col">Runs</th><th scope="col">Size</th></tr>
          </thead>
          <tbody>
            {sessions.map((session) => {
              const available = session.schedule?.available;
              const start = available ? startOf(available.start as string) : undefined;
              return (
                <tr key={session.uuid} data-uuid={session.uuid} data-phase={session.phase}>
                  <td><a href={`#/sessions/${session.uuid}`}>{session.name ?? session.uuid}</a></td>
                  <td><PhaseBadge phase={session.phase} /></td>
                  <td>{session.site}</td>
                  {others ? <td>{session.owner}</td> : null}
                  <td>{start !== undefined ? `${dateTime(start)}, ${duration(isoDuration(available.duration as string))}` : '–'}</td>
                  <td>{session.cores ?? '–'} cores, {session.memoryGiB ?? '–'} GiB{session.gpu ? `, ${session.gpu.count} ${session.gpu.model}` : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {more ? <button type="button" onClick={() => setShown(Math.min(1000, shown + PAGE))}>Show {PAGE} more</button> : null}
    </section>
  );
}
