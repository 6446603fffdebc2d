// The Engine API server framework: request object, router, server, streaming helpers.
export {
  API_VERSION,
  type ApiRequest,
  type ApiResult,
  compareVersions,
  type Handler,
  MAX_JSON_BODY,
  MIN_API_VERSION,
  parseBool,
  parseFilters,
  SERVER_NAME,
} from './http.js';
export { type Method, type RouteMatch, Router } from './router.js';
export { type ApiServer, type ApiServerOptions, createApiServer } from './server.js';
export {
  COMMON_HEADERS,
  type HijackOptions,
  hijack,
  type JsonStream,
  jsonStream,
  muxWriter,
} from './stream.js';
