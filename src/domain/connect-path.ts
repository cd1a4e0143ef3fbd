/**
 * Where the broker's proxy serves a session's HTTP connector (`/sessions/<uuid>/connect`): a
 * notebook server is started with it as its base URL, since its pages name their own paths.
 */
export const connectPath = (uuid: string): string => `/sessions/${uuid}/connect`;
