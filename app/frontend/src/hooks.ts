import { useEffect, useState } from "preact/hooks";
import { ApiError, type FieldErrors } from "./api";
import * as session from "./session";

/** The current session; re-renders on sign-in, refresh and sign-out. */
export function useSession(): session.Session | null {
  const [s, setS] = useState(session.current());
  useEffect(() => session.subscribe(() => setS(session.current())), []);
  return s;
}

export type Load<T> = { loading: boolean; error: string; data: T | null; reload: () => void };

/** Runs `load` now and whenever `key` changes or `reload` is called, keeping
 * its loading state and error message. */
export function useLoad<T>(load: () => Promise<T>, key: string): Load<T> {
  const [state, setState] = useState<{ loading: boolean; error: string; data: T | null }>({
    loading: true,
    error: "",
    data: null,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: "" }));
    load().then(
      (data) => live && setState({ loading: false, error: "", data }),
      (err: Error) => live && setState({ loading: false, error: err.message, data: null }),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

/** A form's submit handler running `action` on the form's fields, with its busy
 * state, the error message and the API's field errors. */
export function useSubmit(action: (form: FormData) => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [fields, setFields] = useState<FieldErrors>({});
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    setFields({});
    try {
      await action(new FormData(e.currentTarget as HTMLFormElement));
    } catch (err) {
      setError((err as Error).message);
      if (err instanceof ApiError) setFields(err.fields);
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, fields, submit };
}
