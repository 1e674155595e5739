// The only way the console talks to the app: the JSON API, with the signed-in bearer token.
// The token lives in sessionStorage (this tab's session only); a 401 signs the user out.

const TOKEN_KEY = 'contacts.token';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    // The JSON path or field key the API names as at fault, if any.
    this.field = problem.field || null;
  }
}

let signedOutListener = () => {};
export function onSignedOut(listener) {
  signedOutListener = listener;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  signedOutListener();
}

const isRawBody = (b) => typeof b === 'string' || b instanceof Blob || b instanceof ArrayBuffer;

/** One call: resolves to {status, data, etag}; rejects with ApiError on 4xx/5xx. */
export async function request(method, path, { body, headers = {}, contentType } = {}) {
  const h = { ...headers };
  const t = token();
  if (t) h.authorization = `Bearer ${t}`;
  let payload;
  if (body !== undefined) {
    if (isRawBody(body)) {
      payload = body;
      h['content-type'] = contentType || 'text/csv';
    } else {
      payload = JSON.stringify(body);
      h['content-type'] = 'application/json';
    }
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body: payload });
  } catch (e) {
    throw new ApiError(0, { title: 'Network error', detail: `The app did not answer (${e.message}).` });
  }
  if (res.status === 401) {
    signOut();
    throw new ApiError(401, { title: 'Signed out', detail: 'Your token is not valid any more; sign in again.' });
  }
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    throw new ApiError(res.status, data || { title: res.statusText || `HTTP ${res.status}` });
  }
  return { status: res.status, data, etag: res.headers.get('etag') };
}

export const api = {
  get: async (path) => (await request('GET', path)).data,
  post: async (path, body) => (await request('POST', path, { body })).data,
  put: async (path, body) => (await request('PUT', path, { body })).data,
  patch: async (path, body, headers) => (await request('PATCH', path, { body, headers })).data,
  del: async (path) => (await request('DELETE', path)).data,
};

export const enc = encodeURIComponent;

/** `?a=1&b=2` from an object, leaving out null, undefined and empty values. */
export function qs(params) {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${enc(k)}=${enc(v)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * What this caller may do, read from the app itself: the OpenAPI document lists every route
 * with who may call it (`x-access`), and `/api/me` says who the caller is. A screen whose
 * route the app does not serve (yet) or whose role it lacks is not offered.
 */
export async function loadSession() {
  const [me, doc] = await Promise.all([api.get('/api/me'), request('GET', '/api/openapi.json')]);
  const paths = doc.data.paths || {};
  const can = (method, path) => {
    const op = paths[path] && paths[path][method.toLowerCase()];
    return Boolean(op) && (op['x-access'] !== 'admin' || me.role === 'admin');
  };
  return { me, can };
}
