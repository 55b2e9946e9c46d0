// The HTTP client lives with the operations scripts, which use it too.
export { request, waitUntil, type HttpRequest, type HttpResponse } from '../../scripts/ops/http.js';
