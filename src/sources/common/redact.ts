/**
 * Keeps credentials out of what nsr prints or records: logs, events, /status,
 * `nsr check`, probe records, replay's routes, error messages. A URL carries
 * them in two places: its userinfo (`user:pass@`) and its query (`?api_key=…`);
 * both are replaced by `***` wherever a URL leaves the process. The URL that
 * is fetched is never changed: only what is shown of it.
 */

/** What stands in for a credential. */
export const REDACTED = '***';

/**
 * Query parameters whose value is a credential, by name, case-insensitively:
 * api_key, apikey, key, token, access_token, secret, password, passwd, pwd,
 * auth, signature, sig, … (and names built on them: X-Amz-Signature,
 * client_secret, subscription-key). Hiding a harmless parameter costs a
 * little clarity; showing a secret one cannot be undone.
 */
export function isSecretParam(name: string): boolean {
  let n: string;
  try {
    n = decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    n = name;
  }
  n = n.toLowerCase().replace(/[-. ]/g, '_');
  return /key$|(^|_)(sig|pass|pwd|sid)$/.test(n) || /token|secret|passw|signature|credential|auth|session/.test(n);
}

/** `a=1&api_key=s` → `a=1&api_key=***`; other parameters stay byte for byte. */
function redactParams(query: string): string {
  return query.replace(/([^&;=]+)=([^&;]*)/g, (all, name: string, value: string) => (value !== '' && isSecretParam(name) ? `${name}=${REDACTED}` : all));
}

/** The same URL with its credentials replaced by `***`; text that is not a URL is redacted as text. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactUrlText(url);
  }
  if (u.username || u.password) {
    u.username = REDACTED;
    u.password = '';
  }
  if (u.search) u.search = redactParams(u.search.slice(1));
  // An OAuth implicit flow puts the token in the fragment.
  if (u.hash) u.hash = redactParams(u.hash.slice(1));
  return u.toString();
}

/** Text that looks like a URL but does not parse (a typo in the configuration) still hides its credentials. */
function redactUrlText(text: string): string {
  return text
    .replace(/(\/\/)[^/\s@?#]*@/g, `$1${REDACTED}@`)
    // A value ends where the URL does; punctuation closing a sentence ("…?token=x: …") is not part of it.
    .replace(/([?#&;])([^&;=#\s"']+)=([^&;#\s"']*?)(?=[:,.)\]]*(?:[&;#\s"']|$))/g, (all, sep: string, name: string, value: string) => (value !== '' && isSecretParam(name) ? `${sep}${name}=${REDACTED}` : all));
}

/** Every URL inside a message (an error, a target description) with its credentials hidden; the rest unchanged. */
export function redactUrlsIn(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (url) => redactUrlText(url));
}

/**
 * A path with its query as a route (`/x?api_key=s&b=2` → `/x?b=2`): the
 * credential parameters are dropped, not masked, so that a route recorded
 * with them, or with them masked, is the same route, and a request is matched
 * whatever credential it sends.
 */
export function withoutSecretParams(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf('?');
  if (q < 0) return pathAndQuery;
  const params = pathAndQuery.slice(q + 1).split('&');
  const kept = params.filter((p) => !isSecretParam(p.split('=', 1)[0]));
  // Nothing to drop: the path stays byte for byte (routes match exactly, `/x?` is not `/x`).
  if (kept.length === params.length) return pathAndQuery;
  return kept.length ? `${pathAndQuery.slice(0, q)}?${kept.join('&')}` : pathAndQuery.slice(0, q);
}
