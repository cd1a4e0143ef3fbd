import { costLines } from '../lib/cost-items.js';
import { useMemo, useState } from 'preact/hooks';
import type { ApiClient, Doc } from '../lib/api-client.js';
import { countdown, dateTime, duration, isoDuration, startOf } from '../lib/format.js';
import { buildRequest, DEFAULT_FORM, EXECUTABLE_KINDS, NOTIFY_EVENTS, notifyTargetOf, type FieldErrors, type RequestFormValues } from '../lib/request-form.js';
import { kindsSitesRun } from '../lib/site-kinds.js';
import { useNow } from './hooks.js';
import { Problem } from './problem.js';

type Field = keyof RequestFormValues;

/** The site an offer is on: its description says so ("Offered by site X"). */
const siteOf = (offer: Doc): string => /site (\S+)$/.exec(String(offer.meta?.description ?? ''))?.[1] ?? '?';

function Offer({ offer, index, now, busy, onAccept }: { offer: Doc; index: number; now: number; busy: boolean; onAccept: () => void }) {
  const expires = Date.parse(offer.expires as string);
  const start = startOf(offer.schedule.available.start as string);
  const gpu = offer.compute?.['srcnet.gpu'] as Doc | undefined;
  const expired = now >= expires || offer.phase !== 'OFFERED';
  return (
    <li class="offer" data-uuid={offer.meta.uuid}>
      <strong>Offer {index + 1}</strong> on <strong>{siteOf(offer)}</strong>: runs from {dateTime(start)} for {duration(isoDuration(offer.schedule.available.duration as string))};{' '}
      {offer.compute.cores.min} cores, {offer.compute.memory.min} GiB{gpu ? `, ${gpu.count} ${gpu.model}` : ''}.{' '}
      {costLines(offer).length ? <span class="quote">Quote: {costLines(offer).join(', ')}.{' '}</span> : null}
      <span class="expiry">{expired ? 'No longer on offer.' : <>Expires in <time dateTime={offer.expires}>{countdown(expires, now)}</time>.</>}</span>{' '}
      <button type="button" disabled={expired || busy} onClick={onAccept}>Accept offer {index + 1}</button>
    </li>
  );
}

/**
 * A request composed by hand: the executable, its size, data and window; POST /requests; the offers
 * listed (and outlined on the timelines) with their expiry; one accepted, and its page opened.
 */
export function ComposePanel({ api, sites, offers, onOffers }: { api: ApiClient; sites: Doc[]; offers: Doc[]; onOffers: (offers: Doc[]) => void }) {
  const runs = useMemo(() => kindsSitesRun(sites), [sites]);
  const runnable = (kind: string): boolean => !runs || runs.has(kind);
  const [values, setValues] = useState<RequestFormValues>(() => (
    runnable(DEFAULT_FORM.kind) ? DEFAULT_FORM : { ...DEFAULT_FORM, kind: EXECUTABLE_KINDS.find((item) => runnable(item.kind))?.kind ?? DEFAULT_FORM.kind }));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [offerSet, setOfferSet] = useState<Doc | undefined>(undefined);
  /** The webhook's signing secret, shown once with the offers it came with. */
  const [secret, setSecret] = useState<string | undefined>(undefined);
  const [problem, setProblem] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const now = useNow(1000);
  const models = useMemo(() => [...new Set(sites.flatMap((site) => Object.keys(site.gpus as Record<string, number>)))].sort(), [sites]);

  const set = (field: Field) => (event: Event): void => setValues({ ...values, [field]: (event.target as HTMLInputElement).value });
  const input = (field: Field, label: string, props: Record<string, unknown> = {}) => (
    <div class="field">
      <label for={`f-${field}`}>{label}</label>
      <input id={`f-${field}`} name={field} value={values[field]} onInput={set(field)} aria-invalid={errors[field] ? 'true' : undefined}
        aria-describedby={errors[field] ? `e-${field}` : undefined} {...props} />
      {errors[field] ? <span class="field-error" id={`e-${field}`}>{errors[field]}</span> : null}
    </div>
  );

  const notRun = EXECUTABLE_KINDS.filter((item) => !runnable(item.kind));
  const mailTarget = notifyTargetOf(values.notifyTarget)?.mail ?? false;
  const chosenEvents = new Set(values.notifyEvents.split(',').filter(Boolean));
  const toggleEvent = (event: string) => (change: Event): void => {
    const next = new Set(chosenEvents);
    if ((change.target as HTMLInputElement).checked) next.add(event); else next.delete(event);
    setValues({ ...values, notifyEvents: NOTIFY_EVENTS.map((item) => item.event).filter((name) => next.has(name)).join(',') });
  };
  const notebook = values.kind === 'jupyter-notebook';

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const built = buildRequest(values, (text) => new Date(text).getTime());
    if ('errors' in built) { setErrors(built.errors); return; }
    setErrors({});
    setProblem(undefined);
    setBusy(true);
    try {
      const { offerSet: answer, webhookSecret } = await api.requestOffers(built.request);
      setOfferSet(answer);
      setSecret(webhookSecret);
      onOffers((answer.offers as Doc[] | undefined) ?? []);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };

  const accept = async (offer: Doc): Promise<void> => {
    setBusy(true);
    setProblem(undefined);
    try {
      await api.changePhase(offer.meta.uuid as string, 'ACCEPTED');
      onOffers([]);
      setOfferSet(undefined);
      setSecret(undefined);
      location.hash = `#/sessions/${offer.meta.uuid}`;
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };

  const release = async (): Promise<void> => {
    setBusy(true);
    try {
      for (const offer of offers) await api.changePhase(offer.meta.uuid as string, 'REJECTED').catch(() => undefined);
      onOffers([]);
      setOfferSet(undefined);
      setSecret(undefined);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel compose" aria-labelledby="compose-title">
      <h2 id="compose-title">Ask for offers</h2>
      <form onSubmit={(event) => { void submit(event); }} noValidate>
        <fieldset>
          <legend>Executable</legend>
          {input('name', 'Name')}
          <div class="field">
            <label for="f-kind">Kind</label>
            <select id="f-kind" name="kind" value={values.kind} onChange={set('kind')} aria-describedby={notRun.length ? 'n-kind' : undefined}>
              {EXECUTABLE_KINDS.map((item) => (
                <option key={item.kind} value={item.kind} disabled={!runnable(item.kind)}>{item.label}{runnable(item.kind) ? '' : ' (no site runs it)'}</option>
              ))}
            </select>
            {notRun.length ? (
              <span class="field-note" id="n-kind">No site here runs {notRun.map((item) => `${item.label.toLowerCase()}s`).join(' or ')}: those kinds are disabled.</span>
            ) : null}
          </div>
          {notebook ? (
            <>
              {input('notebookUrl', 'Notebook URL', { type: 'url', placeholder: 'https://…/notebook.ipynb' })}
              <fieldset class="field choice">
                <legend>Notebook mode</legend>
                {([['interactive', 'Interactive (a Jupyter server to open)'], ['headless', 'Headless (run top to bottom)']] as const).map(([mode, label]) => (
                  <label key={mode}>
                    <input type="radio" name="notebookMode" value={mode} checked={values.notebookMode === mode} onChange={set('notebookMode')} /> {label}
                  </label>
                ))}
              </fieldset>
              {values.notebookMode === 'headless' ? (
                <div class="field wide">
                  <label for="f-notebookParameters">Parameters (optional; one name=value a line)</label>
                  <textarea id="f-notebookParameters" rows={2} value={values.notebookParameters} onInput={set('notebookParameters')}
                    aria-invalid={errors.notebookParameters ? 'true' : undefined} aria-describedby={errors.notebookParameters ? 'e-notebookParameters' : undefined} />
                  {errors.notebookParameters ? <span class="field-error" id="e-notebookParameters">{errors.notebookParameters}</span> : null}
                </div>
              ) : null}
            </>
          ) : (
            <>
              {input('image', 'Image')}
              <div class="field wide">
                <label for="f-command">Command (run by /bin/sh -c; empty: the image's own)</label>
                <textarea id="f-command" rows={2} value={values.command} onInput={set('command')} />
              </div>
            </>
          )}
        </fieldset>
        <fieldset>
          <legend>Size</legend>
          {input('coresMin', 'Cores, at least', { inputMode: 'numeric' })}
          {input('coresMax', 'Cores, at most', { inputMode: 'numeric' })}
          {input('memoryMin', 'Memory (GiB), at least', { inputMode: 'decimal' })}
          {input('memoryMax', 'Memory (GiB), at most', { inputMode: 'decimal' })}
          {input('gpuCount', 'GPUs', { inputMode: 'numeric' })}
          <div class="field">
            <label for="f-gpuModel">GPU model</label>
            <select id="f-gpuModel" value={values.gpuModel} onChange={set('gpuModel')}>
              <option value="">any</option>
              {models.map((model) => <option key={model} value={model}>{model}</option>)}
            </select>
          </div>
        </fieldset>
        <fieldset>
          <legend>Data and time</legend>
          {input('dataUrl', 'Data URL (optional)', { type: 'url', placeholder: 'https://…' })}
          {input('dataPath', 'Mounted at')}
          {input('startAfter', 'Start at the earliest (optional)', { type: 'datetime-local' })}
          {input('startBefore', 'Start at the latest (optional)', { type: 'datetime-local' })}
          {input('duration', 'Duration', { inputMode: 'numeric' })}
          <div class="field">
            <label for="f-durationUnit">Unit</label>
            <select id="f-durationUnit" value={values.durationUnit} onChange={set('durationUnit')}>
              <option value="minutes">minutes</option>
              <option value="hours">hours</option>
            </select>
          </div>
        </fieldset>
        <fieldset class="notify">
          <legend>Tell me (optional)</legend>
          {input('notifyTarget', 'Webhook URL or mail address', { placeholder: 'https://… or you@example.org' })}
          <fieldset class="field choice wide" aria-describedby={errors.notifyEvents ? 'e-notifyEvents' : undefined}>
            <legend>When</legend>
            {NOTIFY_EVENTS.map((item) => (
              <label key={item.event}>
                <input type="checkbox" name="notifyEvents" value={item.event} checked={chosenEvents.has(item.event) && (item.mail || !mailTarget)}
                  disabled={mailTarget && !item.mail} onChange={toggleEvent(item.event)} /> {item.label}{mailTarget && !item.mail ? ' (not by mail)' : ''}
              </label>
            ))}
            {errors.notifyEvents ? <span class="field-error" id="e-notifyEvents">{errors.notifyEvents}</span> : null}
          </fieldset>
        </fieldset>
        <button type="submit" disabled={busy}>{busy ? 'Asking…' : 'Ask for offers'}</button>
      </form>
      <Problem error={problem} />
      {offerSet ? (
        <div class="offers" aria-live="polite">
          {secret && offerSet.result === 'YES' ? (
            <p class="webhook-secret">Webhook signing secret, shown this once (keep it to verify the webhooks; docs/notifications.md): <code>{secret}</code></p>
          ) : null}
          {offerSet.result === 'YES' ? (
            <>
              <h3>{offers.length === 1 ? 'One offer' : `${offers.length} offers`}</h3>
              <ol>{offers.map((offer, index) => <Offer key={offer.meta.uuid} offer={offer} index={index} now={now} busy={busy} onAccept={() => { void accept(offer); }} />)}</ol>
              <button type="button" class="secondary" disabled={busy} onClick={() => { void release(); }}>Let these offers go</button>
            </>
          ) : <h3>No offer</h3>}
          {(offerSet.meta?.messages as Doc[] | undefined)?.length ? (
            <ul class="messages">{(offerSet.meta.messages as Doc[]).map((message, index) => <li key={index} class={`level-${String(message.level).toLowerCase()}`}>{message.level}: {message.message}</li>)}</ul>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
