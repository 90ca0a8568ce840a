// Names of the Cache Storage caches the worker keeps without an offline
// copy, in one place: the worker opens them (worker.js) and
// removeOffline() deletes them (ui/offline.js).
//
//   crossfind-parts:<bundle folder URL>             a bundle's lexical pieces and
//                                                   vector-row blocks, fetched per query
//   crossfind-rows:<model folder path>:<pack id>   the model's word-embedding rows

export const PARTS_CACHE_PREFIX = 'crossfind-parts:';
export const ROWS_CACHE_PREFIX = 'crossfind-rows:';

/** The parts cache of the bundle whose folder is `bundleUrl` (a URL). */
export const partsCacheName = (bundleUrl) => PARTS_CACHE_PREFIX + bundleUrl.href;

/** The start of every rows cache of the model folder `modelPath` (a path), whatever its pack. */
export const rowsCachePrefix = (modelPath) => ROWS_CACHE_PREFIX + modelPath;
