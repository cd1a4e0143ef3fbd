import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The id of the HTTP request being served, carried through everything it causes in this process
 * (async context), into the jobs it adds, and on from each job to the next one: the accept's id
 * follows a session through every step on its site worker, in the logs.
 */
const storage = new AsyncLocalStorage<{ requestId: string }>();

export function withRequestId<T>(requestId: string | undefined, work: () => T): T {
  return requestId ? storage.run({ requestId }, work) : work();
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}
