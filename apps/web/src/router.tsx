import { useEffect, useState, type MouseEvent, type ReactNode } from "react";

const listeners = new Set<() => void>();

/** Goes to `to` (path + query) without a reload. */
export function navigate(to: string, replace = false): void {
  if (replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  for (const fn of listeners) fn();
}

/** The current location (pathname and query), re-rendering on navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const fn = (): void => setTick((t) => t + 1);
    listeners.add(fn);
    window.addEventListener("popstate", fn);
    return () => {
      listeners.delete(fn);
      window.removeEventListener("popstate", fn);
    };
  }, []);
  return {
    path: window.location.pathname,
    query: new URLSearchParams(window.location.search),
  };
}

/** An in-app link: a real <a href> (open in new tab works) that navigates without a reload. */
export function Link(props: { to: string; className?: string; children: ReactNode }): ReactNode {
  const onClick = (e: MouseEvent<HTMLAnchorElement>): void => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.to);
  };
  return (
    <a href={props.to} className={props.className} onClick={onClick}>
      {props.children}
    </a>
  );
}

/** Replaces one query parameter of the current page (filters live in the URL, so links keep them). */
export function setQueryParam(key: string, value: string): void {
  const q = new URLSearchParams(window.location.search);
  if (value) q.set(key, value);
  else q.delete(key);
  const s = q.toString();
  navigate(`${window.location.pathname}${s ? `?${s}` : ""}`, true);
}
