import type { OfferSetRecord, SessionRecord } from '../../broker/ports.js';
import { kindUri } from '../kind-uris.js';
import { readExecutionRequestBody, type IncomingRequest } from '../read-request-body.js';
import { notifyTargets, type GlobalJob } from './read-global-job.js';
import { unavailableAnswer } from './srcnet-answers.js';
import { renderParams } from './srcnet-translation.js';

/**
 * SRCNet's Global Execution API in the engine's terms (docs/srcnet-api.md, "Global Execution
 * API"): a submitted job is an ExecutionBroker request for a docker container whose entrypoint is
 * `/bin/sh` and whose command is `-c <script> job <parameters...>`, booked and accepted at once
 * as `/direct` does. The job's id is its session's uuid, so the same job is a session of the
 * ExecutionBroker API.
 */

/** The script's `$0`: what `ps` and the shell's own error messages call it. */
export const SCRIPT_NAME = 'job';
/** The environment variable holding the parameters as the client sent them (JSON for an object). */
export const PARAMETERS_VARIABLE = 'EB_PARAMETERS';

/** The ExecutionBroker v1.0 request a submission stands for (a wire document). */
export function globalJobDocument(job: GlobalJob): Record<string, unknown> {
  const { parameters, system_parameters: system } = job;
  const args = typeof parameters === 'string' ? [parameters] : renderParams(parameters);
  const environment = parameters === undefined ? {} : { [PARAMETERS_VARIABLE]: typeof parameters === 'string' ? parameters : JSON.stringify(parameters) };
  const exactly = (value: number | undefined) => (value === undefined ? {} : { min: value, max: value });
  const notify = notifyTargets(job);
  const gpu = system.gpu_model && system.gpu_model !== 'none' ? { 'srcnet.gpu': { count: 1, model: system.gpu_model } } : {};
  return {
    meta: { name: 'global-execution-job' },
    executable: {
      kind: kindUri('executable/docker-container'),
      meta: { name: SCRIPT_NAME },
      image: { locations: [job.container_image] },
      entrypoint: '/bin/sh',
      command: ['-c', job.script, SCRIPT_NAME, ...args],
      ...(Object.keys(environment).length ? { environment } : {}),
    },
    compute: {
      kind: kindUri('compute/simple-compute-resource'),
      meta: { name: 'compute' },
      ...(system.cpu_cores !== undefined ? { cores: exactly(system.cpu_cores) } : {}),
      ...(system.memory !== undefined ? { memory: exactly(system.memory) } : {}),
      ...gpu,
    },
    ...(system.output_data_size !== undefined
      ? { storage: [{ kind: kindUri('storage/simple-storage-resource'), meta: { name: 'outputs' }, size: exactly(system.output_data_size) }] }
      : {}),
    ...(system.runtime !== undefined ? { schedule: { requested: { duration: `PT${system.runtime}H` } } } : {}),
    ...(notify.length ? { 'srcnet.notify': notify } : {}),
  };
}

/** The submission as the engine reads any request (the same validator and reader as POST /direct). */
export function translateGlobalJob(job: GlobalJob): IncomingRequest {
  return readExecutionRequestBody(Buffer.from(JSON.stringify(globalJobDocument(job))), 'application/json');
}

/** A job's state in the API's words. */
export type JobState = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

/**
 * The session's phase as a job's state and a sentence. As in the compute API, a run the engine
 * stopped at the end of its offered duration did not finish: FAILED, not COMPLETED.
 */
export function jobState(session: SessionRecord): { state: JobState; text: string } {
  const last = [...session.messages].reverse().find((m) => m.kind === 'urn:session-failed' || m.kind === 'urn:session-completed');
  switch (session.phase) {
    case 'OFFERED': case 'ACCEPTED': case 'WAITING': case 'PREPARING':
      return { state: 'PENDING', text: `Waiting to run on site ${session.site} (${session.phase})` };
    case 'AVAILABLE': case 'RUNNING': case 'RELEASING':
      return { state: 'RUNNING', text: `Running on site ${session.site} (${session.phase})` };
    case 'COMPLETED':
      return last?.template.startsWith('The offered duration ended')
        ? { state: 'FAILED', text: 'The job did not finish within its runtime and was stopped' }
        : { state: 'COMPLETED', text: 'OK' };
    case 'FAILED': return { state: 'FAILED', text: last?.message ?? `Site ${session.site} failed the job` };
    case 'CANCELLED': return { state: 'CANCELLED', text: 'The job was cancelled before it finished' };
    default: return { state: 'CANCELLED', text: `The job is ${session.phase}` };
  }
}

export interface OutputLink { path: string; size: number; url: string }

export interface JobStatusAnswer {
  job_id: string;
  status: JobState;
  response_text: string;
  /** The engine's phase of the session behind the job. */
  phase: string;
  site: string;
  log: string;
  /** The files the job left in its outputs directory, once COMPLETED (null before, or where this API cannot read them). */
  outputs: OutputLink[] | null;
  outputs_url: string;
  /** The same job as an ExecutionBroker session. */
  session_url: string;
}

export function jobStatusAnswer(session: SessionRecord, log: string, outputs: OutputLink[] | null, baseUrl: string): JobStatusAnswer {
  const { state, text } = jobState(session);
  return {
    job_id: session.uuid,
    status: state,
    response_text: text,
    phase: session.phase,
    site: session.site,
    log,
    outputs,
    outputs_url: `${baseUrl}/sessions/${session.uuid}/outputs`,
    session_url: `${baseUrl}/sessions/${session.uuid}`,
  };
}

/** A typed error of the API: an HTTP status and `{detail, code}`. */
export interface JobError { status: number; body: { detail: string; code: string } }

/**
 * Why a submission got no job, from the offer set's messages (the compute API's codes, as HTTP):
 * 422 `not-available` (no site has it at all, or the request itself is refused), 409
 * `not-bookable` (a site has it, not now), 503 `backend-unavailable` (a site that could serve it
 * has no worker or did not answer).
 */
export function noJobError(offerSet: OfferSetRecord): JobError {
  const answer = unavailableAnswer(offerSet);
  const detail = answer.response_text;
  switch (answer.response_code) {
    case 1: return { status: 422, body: { detail, code: 'not-available' } };
    case 2: return { status: 409, body: { detail, code: 'not-bookable' } };
    case 3: return { status: 503, body: { detail, code: 'backend-unavailable' } };
    default: return { status: 409, body: { detail, code: 'no-offer' } };
  }
}

export const UNKNOWN_JOB: JobError = { status: 404, body: { detail: 'Job not found', code: 'job-not-found' } };
