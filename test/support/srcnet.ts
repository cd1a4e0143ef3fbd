import type TestAgent from 'supertest/lib/agent.js';

type Doc = Record<string, any>;
export const HOUR = 3_600_000;

/** The SRCNet prototype's example query, with a deadline `ahead` ms from now. */
export function exampleQuery(overrides: Doc = {}, ahead = 10 * 24 * HOUR): Doc {
  return {
    data_location: 'democity', data_size: 60000, output_data_size: 8000, memory: 196, cpu_cores: 16, runtime: 72,
    gpu_model: 'K40', deadline: new Date(Date.now() + ahead).toISOString(), ...overrides,
  };
}

/** A small query: one core for an hour, the data at democity. */
export const smallQuery = (overrides: Doc = {}, ahead?: number): Doc =>
  exampleQuery({ data_size: 1, output_data_size: 1, memory: 1, cpu_cores: 1, runtime: 1, gpu_model: null, ...overrides }, ahead);

/** Sends a JSON body as the prototype's clients do. */
export const send = (http: TestAgent, method: 'post' | 'put', path: string, body: unknown, headers: Record<string, string> = {}) =>
  http[method](path).set({ 'Content-Type': 'application/json', ...headers }).send(typeof body === 'string' ? body : JSON.stringify(body));

/** Polls a provision's status until it is no longer 1 (running). */
export async function finalStatus(http: TestAgent, provisionId: string, headers: Record<string, string> = {}, tries = 400): Promise<Doc> {
  let status: Doc = {};
  for (let i = 0; i < tries; i++) {
    status = (await http.get(`/v1/provision/${provisionId}/status`).set(headers)).body as Doc;
    if (status.response_code !== 1) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  return status;
}
