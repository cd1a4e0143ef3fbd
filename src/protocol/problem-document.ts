import { BrokerError, type ErrorCode } from '../domain/errors.js';
import { renderTemplate } from '../domain/messages.js';
import { ERROR_CATALOGUE, problemTypeUri } from './error-catalogue.js';

/** RFC 9457 problem details, with our stable code and the ExecutionBroker message beside them. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  errors?: string[];
  messages: Array<{ kind: string; level: 'ERROR'; template: string; values?: Record<string, string>; message: string }>;
}

export function problemDocument(error: BrokerError, instance?: string): ProblemDocument {
  const entry = ERROR_CATALOGUE[error.code];
  const rendered = renderTemplate(entry.template, error.values);
  const detail = error.detail ?? rendered;
  const problem: ProblemDocument = {
    type: problemTypeUri(error.code),
    title: entry.title,
    status: entry.status,
    detail,
    code: error.code,
    messages: [{
      kind: problemTypeUri(error.code),
      level: 'ERROR',
      template: entry.template,
      ...(Object.keys(error.values).length ? { values: error.values } : {}),
      message: detail,
    }],
  };
  if (instance) problem.instance = instance;
  if (error.reasons.length) problem.errors = [...error.reasons];
  return problem;
}
