import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiClient } from '../lib/api-client.js';
import { Problem } from './problem.js';

const BEFORE_RUN = new Set(['OFFERED', 'ACCEPTED', 'WAITING', 'PREPARING', 'AVAILABLE', 'INITIAL']);
const NO_RUN = new Set(['REJECTED', 'EXPIRED']);
/** The page keeps the last 1 MiB of text, as the broker does. */
const MAX_CHARS = 1024 * 1024;

/**
 * The run's log: followed (`?follow=true`, one streamed response) from the moment the session
 * runs until it ends, then read whole once more; read once for a session that has ended.
 */
export function LogView({ api, uuid, phase }: { api: ApiClient; uuid: string; phase: string }) {
  const [text, setText] = useState('');
  const [state, setState] = useState<'waiting' | 'following' | 'done'>('waiting');
  const [error, setError] = useState<unknown>(undefined);
  const following = useRef(false);
  const pre = useRef<HTMLPreElement>(null);
  const started = !BEFORE_RUN.has(phase) && !NO_RUN.has(phase);

  useEffect(() => {
    if (!started || following.current || state === 'done') return undefined;
    following.current = true;
    const abort = new AbortController();
    setState('following');
    let received = '';
    api.followLog(uuid, (piece) => {
      received = (received + piece).slice(-MAX_CHARS);
      setText(received);
    }, abort.signal)
      .then(() => api.log(uuid)) // the whole log as the broker keeps it, once the session has ended
      .then((whole) => { setText(whole); setState('done'); }, (failure: unknown) => { if (!abort.signal.aborted) { setError(failure); setState('done'); } });
    return () => { abort.abort(); following.current = false; };
  }, [started, uuid, api]);

  useEffect(() => {
    const element = pre.current;
    if (element && state === 'following') element.scrollTop = element.scrollHeight;
  }, [text]);

  return (
    <section class="panel log" aria-labelledby="log-title">
      <h3 id="log-title">Log {state === 'following' ? <span class="following">(following)</span> : null}</h3>
      <Problem error={error} what="The log could not be read" />
      {!started ? <p>{NO_RUN.has(phase) ? 'This session never ran.' : 'The log starts when the session runs.'}</p> : (
        <pre ref={pre} class="log-text" tabIndex={0} aria-label="Log text" data-state={state}>{text || (state === 'done' ? '(empty)' : '')}</pre>
      )}
    </section>
  );
}
