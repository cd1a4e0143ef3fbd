import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { readSchemaFile } from './schema-files.js';

// ajv-formats is CommonJS; under ESM its default export arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as
  (ajv: Ajv2020, formats: string[]) => Ajv2020;

export const SCHEMA_ID = 'urn:srcnet:execution-broker:schema:v1.0';

const INT32 = 2 ** 31;

/** The one ajv instance of the process: every schema is added and compiled here, once. */
function buildAjv(): Ajv2020 {
  const instance = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, strictTypes: false, allowUnionTypes: true });
  addFormats(instance, ['date-time', 'uri', 'uuid', 'email']);
  // OpenAPI's numeric formats. int64 is left to the domain checks, which answer an out-of-range
  // value with a NO and a message instead of a schema error.
  instance.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -INT32 && n < INT32 });
  instance.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  instance.addFormat('float', { type: 'number', validate: () => true });
  instance.addFormat('url', { type: 'string', validate: (s: string) => /^https?:\/\//.test(s) });
  instance.addSchema(readSchemaFile<object>('execution-broker.schema.json'));
  return instance;
}

export const ajv: Ajv2020 = buildAjv();

function compileDef(name: string): ValidateFunction {
  const validate = ajv.getSchema(`${SCHEMA_ID}#/$defs/${name}`);
  if (!validate) throw new Error(`schema ${name} is missing from schemas/execution-broker.schema.json`);
  return validate;
}

export const validators = {
  ExecutionRequest: compileDef('ExecutionRequest'),
  AbstractUpdate: compileDef('AnyUpdate'),
  OfferSetResponse: compileDef('OfferSetResponse'),
  AbstractExecutionSession: compileDef('AnyExecutionSession'),
  MessageItem: compileDef('MessageItem'),
} as const;

export type ValidatedDocument = keyof typeof validators;

export interface SchemaViolation {
  /** JSON pointer of the offending value, `/` for the document itself. */
  pointer: string;
  keyword: string;
  message: string;
}

/** Violations of the value's syntax (a pattern, a format, an enum) rather than of its structure. */
export const SYNTAX_KEYWORDS: ReadonlySet<string> = new Set(['pattern', 'format', 'enum', 'const']);

export function checkDocument(type: ValidatedDocument, value: unknown): SchemaViolation[] {
  const validate = validators[type];
  if (validate(value)) return [];
  return describeErrors(validate.errors ?? []);
}

export function describeErrors(errors: readonly ErrorObject[]): SchemaViolation[] {
  const seen = new Set<string>();
  const out: SchemaViolation[] = [];
  for (const error of errors) {
    // if/then dispatch repeats each failure of a subtype as a failing "if": say it once.
    if (error.keyword === 'if') continue;
    const pointer = error.instancePath || '/';
    const message = error.keyword === 'additionalProperties'
      ? `${error.message} (${String((error.params as { additionalProperty?: string }).additionalProperty)})`
      : error.keyword === 'enum'
        ? `${error.message}: ${((error.params as { allowedValues?: unknown[] }).allowedValues ?? []).join(', ')}`
        : error.message ?? error.keyword;
    const key = `${pointer} ${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ pointer, keyword: error.keyword, message });
  }
  return out;
}
