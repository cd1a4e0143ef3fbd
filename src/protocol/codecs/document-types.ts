/** The documents the broker reads and writes; the XML codec needs to know which one it holds. */
export type DocumentType =
  | 'ExecutionRequest'
  | 'AbstractUpdate'
  | 'OfferSetResponse'
  | 'AbstractExecutionSession'
  | 'Problem'
  | ListingType;

/** The broker's own documents (listings, timelines, histories), outside the v1.0 schema. */
export type ListingType = 'SessionList' | 'SiteList' | 'SiteTimeline' | 'SessionHistory';

export type Format = 'json' | 'xml' | 'yaml';
