// The bundle folder: where crossfind.js is served from (webpack keeps
// import.meta.url as it is, so this is the URL of the built crossfind.js).
export const BASE = new URL('./', import.meta.url);
