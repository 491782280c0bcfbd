// The signed-in user's tokens, kept in localStorage so that a reload or a new
// tab stays signed in. Listeners hear every change (sign-in, refresh, sign-out).

export type User = { id: number; username: string; email: string };
export type Session = { access: string; refresh: string; user: User };

const KEY = "listcutter.session";
const listeners = new Set<() => void>();

export function current(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function store(session: Session | null): void {
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
  listeners.forEach((listener) => listener());
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// Another tab signing in or out changes this one too.
window.addEventListener("storage", (event) => {
  if (event.key === KEY) listeners.forEach((listener) => listener());
});
