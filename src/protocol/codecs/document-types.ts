/** The documents the broker reads and writes; the XML codec needs to know which one it holds. */
export type DocumentType =
  | 'ExecutionRequest'
  | 'AbstractUpdate'
  | 'OfferSetResponse'
  | 'AbstractExecutionSession'
  | 'Problem';

export type Format = 'json' | 'xml' | 'yaml';
