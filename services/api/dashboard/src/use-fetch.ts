import { useEffect, useRef, useState } from 'preact/hooks';

export interface Fetched<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(): void;
}

/**
 * Runs `load` whenever `key` changes and keeps the previous data on screen while the next answer
 * comes (no flicker when a filter changes). Answers that arrive after a newer request are dropped.
 * A null `load` means "nothing to fetch yet".
 */
export function useFetch<T>(load: (() => Promise<T>) | null, key: string): Fetched<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: !!load });
  const [version, setVersion] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    if (!load) return;
    const id = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => id === latest.current && setState({ data, loading: false }),
      (error: Error) => id === latest.current && setState((s) => ({ data: s.data, error, loading: false })),
    );
    // `load` is a new closure at each render; `key` says when what it fetches changed.
  }, [key, version, !!load]);
  return {
    data: state.data,
    error: state.error,
    loading: state.loading,
    reload: () => setVersion((v) => v + 1),
  };
}
