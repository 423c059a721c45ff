// Calls to /api/v1 (docs/api.md): JSON in and out, one error shape.
//
// People are signed in by their session cookie (the browser sends the Origin
// that the server's CSRF check wants); devices send their token as a bearer.

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status; // 0 when the server could not be reached
    this.code = code;
    this.details = details;
  }
}

const TIMEOUT_MS = 10_000;

/** The device token of this page (display and kiosk links carry `?token=`). */
export function pageToken() {
  return new URLSearchParams(location.search).get("token");
}

/**
 * A device page's token (kiosk, display, tablet): taken out of the address bar, where
 * anyone in front of the screen could read it, into local storage under `store`
 * (docs/security.md "Devices"); later loads without it in the address use the stored one.
 */
export function deviceToken(store) {
  const fromUrl = pageToken();
  if (fromUrl) {
    localStorage.setItem(store, fromUrl);
    const params = new URLSearchParams(location.search);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
  }
  return fromUrl || localStorage.getItem(store);
}

/** A fresh idempotency key: a pressed button's retries and double taps act once. */
export function newKey(tag = "ui") {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `${tag}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export async function api(method, path, { body, token, key, timeoutMs = TIMEOUT_MS } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  if (key) headers["Idempotency-Key"] = key;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal: ctl.signal,
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, "network", String(err && err.message ? err.message : err));
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText, e.details || {});
  }
  return data;
}

export const get = (path, opts) => api("GET", path, opts);
export const post = (path, body = {}, opts = {}) => api("POST", path, { ...opts, body });
export const put = (path, body = {}, opts = {}) => api("PUT", path, { ...opts, body });
export const del = (path, opts) => api("DELETE", path, opts);
