import { useEffect, useState } from 'preact/hooks';
import type { Session } from './api-types';

/**
 * The session token lives in localStorage so the dashboard stays signed in across mornings until
 * the token expires. The API never uses cookies: the token travels only in the Authorization
 * header, which is why the page's Content-Security-Policy forbids any script but its own.
 */
const KEY = 'tidemark.session';
const listeners = new Set<() => void>();

function currentSession(): Session | null {
  try {
    const session = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Session | null;
    if (!session || Date.parse(session.expires_at) <= Date.now()) return null;
    return session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
  listeners.forEach((listener) => listener());
}

export function useSession(): Session | null {
  const [session, setSession] = useState(currentSession);
  useEffect(() => {
    const listener = () => setSession(currentSession());
    listeners.add(listener);
    // Signing out in one tab signs out the others.
    window.addEventListener('storage', listener);
    return () => {
      listeners.delete(listener);
      window.removeEventListener('storage', listener);
    };
  }, []);
  return session;
}
