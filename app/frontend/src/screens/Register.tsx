import { useState } from "preact/hooks";
import { ApiError, type FieldErrors } from "../api";
import { Field } from "../components/Field";
import { ErrorMessage } from "../components/Status";
import * as api from "../endpoints";
import { navigate } from "../router";

export function Register() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [fields, setFields] = useState<FieldErrors>({});

  async function submit(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const value = (name: string) => String(form.get(name) ?? "");
    setBusy(true);
    setError("");
    setFields({});
    try {
      await api.register(value("username"), value("email"), value("password"), value("password2"));
      navigate("/files", true);
    } catch (err) {
      setError((err as Error).message);
      if (err instanceof ApiError) setFields(err.fields);
      setBusy(false);
    }
  }

  return (
    <>
      <h1 tabIndex={-1}>Register</h1>
      <form onSubmit={submit} class="narrow" noValidate>
        <ErrorMessage message={error} />
        <Field label="Username" name="username" autoComplete="username" required errors={fields.username} />
        <Field label="Email (optional)" name="email" type="email" autoComplete="email" errors={fields.email} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          errors={fields.password}
        />
        <Field
          label="Password again"
          name="password2"
          type="password"
          autoComplete="new-password"
          required
          errors={fields.password2}
        />
        <button type="submit" disabled={busy}>
          {busy ? "Creating your account…" : "Register"}
        </button>
      </form>
      <p>
        Already registered? <a href="/login">Sign in</a>.
      </p>
    </>
  );
}
