/** Keeps credentials out of what nsr prints: logs, events, `nsr check`. */

/** Credentials in a URL (user:pass@) never reach logs or events. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url;
  }
}
