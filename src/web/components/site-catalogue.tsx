import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ApiClient, Doc } from '../lib/api-client.js';
import type { EventFeed } from '../lib/event-feed.js';
import { clockTime } from '../lib/format.js';
import { catalogueQuery, filterChoices, freeStrip, type CatalogueFilter } from '../lib/site-catalogue.js';
import { useDebounced, useNow } from './hooks.js';
import { Problem } from './problem.js';

const gpuText = (gpus: Record<string, number> | undefined): string =>
  Object.entries(gpus ?? {}).map(([model, count]) => `${count} ${model}`).join(', ') || 'none';

/**
 * The catalogue (`GET /sites` with its filters): per site what it runs and with what, its GPUs,
 * storage, next downtime, and what is free now and hour by hour for the next 24 hours. Read again
 * when the filter changes, on a session notice (a burst, once) and every minute.
 */
export function SiteCatalogue({ api, feed, sites }: { api: ApiClient; feed: EventFeed; sites: Doc[] }) {
  const [filter, setFilter] = useState<CatalogueFilter>({});
  const [listed, setListed] = useState<Doc[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const now = useNow(60_000);
  const ticket = useRef(0);
  const choices = useMemo(() => filterChoices(sites), [sites]);
  const filterRef = useRef(filter);
  filterRef.current = filter;

  const load = (): void => {
    const mine = ++ticket.current;
    api.json(`/sites${catalogueQuery(filterRef.current)}`).then((body) => {
      if (mine !== ticket.current) return;
      setError(undefined);
      setListed(body.sites as Doc[]);
    }, (failure: unknown) => { if (mine === ticket.current) setError(failure); });
  };
  const later = useDebounced(load, 1000);
  useEffect(load, [filter, now, api]);
  useEffect(() => feed.on(() => later()), [feed]);

  return (
    <section class="panel catalogue" aria-labelledby="catalogue-title" data-ready={listed ? 'true' : 'false'}>
      <div class="panel-head">
        <h2 id="catalogue-title">Catalogue</h2>
        <form class="catalogue-filter" aria-label="Filter the sites" onSubmit={(event) => event.preventDefault()}>
          <label>Runs{' '}
            <select name="kind" value={filter.kind ?? ''} onChange={(event) => setFilter({ ...filter, kind: (event.target as HTMLSelectElement).value || undefined })}>
              <option value="">any kind</option>
              {choices.kinds.map((kind) => <option key={kind} value={kind}>{kind}</option>)}
            </select>
          </label>
          <label>GPU{' '}
            <select name="gpu" value={filter.gpu ?? ''} onChange={(event) => setFilter({ ...filter, gpu: (event.target as HTMLSelectElement).value || undefined })}>
              <option value="">any</option>
              {choices.gpus.map((model) => <option key={model} value={model}>{model}</option>)}
            </select>
          </label>
          <label>Cores free now ≥{' '}
            <input name="cores" type="number" min={1} step={1} value={filter.cores ?? ''} size={4}
              onInput={(event) => { const value = Number((event.target as HTMLInputElement).value); setFilter({ ...filter, cores: Number.isInteger(value) && value > 0 ? value : undefined }); }} />
          </label>
        </form>
      </div>
      <Problem error={error} what="The catalogue could not be read" />
      {listed === undefined ? <p class="loading">Reading…</p> : listed.length === 0 ? <p class="empty">No site matches.</p> : (
        <table class="catalogue-table">
          <thead>
            <tr><th scope="col">Site</th><th scope="col">Runs</th><th scope="col">Executors</th><th scope="col">GPUs</th><th scope="col">Storage (RSEs)</th><th scope="col">Next downtime</th><th scope="col">Free now</th><th scope="col">Free cores, next hours</th></tr>
          </thead>
          <tbody>
            {listed.map((site) => {
              const strip = freeStrip(site);
              const down = site.nextDowntime as Doc | undefined;
              return (
                <tr key={site.name} data-site={site.name}>
                  <th scope="row">{site.name}{site.online ? '' : <small> (no worker)</small>}{site.disabled ? <small class="disabled" title={site.disabled}> (not offered)</small> : null}</th>
                  <td class="kinds">{(site.executables as string[] ?? []).join(', ') || 'nothing now'}</td>
                  <td>{(site.executors as string[] ?? []).join(', ')}</td>
                  <td class="gpus">{gpuText(site.gpus)}</td>
                  <td>{(site.storage as Doc[] ?? []).filter((element) => element.local).map((element) => element.name).join(', ') || '—'}</td>
                  <td class="downtime">{down ? `${new Date(down.start).toLocaleString()} – ${new Date(down.end).toLocaleString()} (${down.type}${down.reason ? `: ${down.reason}` : ''})` : 'none declared'}</td>
                  <td class="free-now">{site.free ? `${site.free.now.cores}/${site.cores} cores · ${site.free.now.memoryGiB}/${site.memoryGiB} GiB${Object.keys(site.free.now.gpus ?? {}).length ? ` · GPUs ${gpuText(site.free.now.gpus)}` : ''}` : '—'}</td>
                  <td>
                    <span class="free-strip" role="img" aria-label={`Free cores hour by hour: ${strip.map((hour) => hour.cores).join(', ')}`}>
                      {strip.map((hour) => (
                        <span key={hour.start} class="free-hour" title={`${clockTime(Date.parse(hour.start))}: ${hour.cores} cores free`} style={{ height: `${Math.round(4 + 20 * hour.share)}px` }} />
                      ))}
                    </span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
