import { Field, PasswordField } from "../components/Field";
import { ErrorMessage, Notice } from "../components/Status";
import { Submit } from "../components/Submit";
import * as api from "../endpoints";
import { useSubmit } from "../hooks";
import { navigate } from "../router";

/** Where to go after signing in: the page that asked for it, if it is one of ours. */
function next(query: URLSearchParams): string {
  const to = query.get("next") ?? "";
  return to.startsWith("/") && !to.startsWith("//") ? to : "/files";
}

export function Login({ query }: { query: URLSearchParams }) {
  const { busy, error, fields, submit } = useSubmit(async (form) => {
    await api.login(String(form.get("username")), String(form.get("password")));
    navigate(next(query), true);
  });

  return (
    <>
      <h1 tabIndex={-1}>Sign in</h1>
      <form onSubmit={submit} class="narrow" noValidate>
        {!error && query.get("next") && <Notice message="Sign in to continue." />}
        <ErrorMessage message={error} />
        <Field label="Username" name="username" autoComplete="username" required errors={fields.username} />
        <PasswordField label="Password" name="password" autoComplete="current-password" errors={fields.password} />
        <Submit busy={busy} label="Sign in" busyLabel="Signing in…" />
      </form>
      <p>
        No account yet? <a href="/register">Register</a>. You can also <a href="/">cut a CSV</a> without one.
      </p>
    </>
  );
}
