/**
 * Sets a property on a plain object even when its name is `__proto__`, which plain assignment
 * would take for the prototype: documents keep every key a client sent as data.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
