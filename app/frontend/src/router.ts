// Client-side routes on real paths (the Worker answers index.html for any of
// them). Links are plain <a href> elements; clicks on same-origin links are
// turned into history entries here, so the keyboard and middle-click work as usual.
import { useEffect, useState } from "preact/hooks";

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  listeners.forEach((listener) => listener());
}

window.addEventListener("popstate", () => listeners.forEach((listener) => listener()));

document.addEventListener("click", (event) => {
  const link = (event.target as Element | null)?.closest?.("a");
  if (
    !link ||
    event.defaultPrevented ||
    event.button !== 0 ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey ||
    event.altKey ||
    link.target ||
    link.hasAttribute("download") ||
    link.origin !== location.origin
  ) {
    return;
  }
  event.preventDefault();
  navigate(link.pathname + link.search);
});

/** The current location; re-renders the caller on every navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => void listeners.delete(listener);
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}
