import { Field, PasswordField } from "../components/Field";
import { ErrorMessage } from "../components/Status";
import { Submit } from "../components/Submit";
import * as api from "../endpoints";
import { useSubmit } from "../hooks";
import { navigate } from "../router";

export function Register() {
  const { busy, error, fields, submit } = useSubmit(async (form) => {
    const value = (name: string) => String(form.get(name) ?? "");
    await api.register(value("username"), value("email"), value("password"), value("password2"));
    navigate("/files", true);
  });

  return (
    <>
      <h1 tabIndex={-1}>Register</h1>
      <form onSubmit={submit} class="narrow" noValidate>
        <ErrorMessage message={error} />
        <Field label="Username" name="username" autoComplete="username" required errors={fields.username} />
        <Field label="Email (optional)" name="email" type="email" autoComplete="email" errors={fields.email} />
        <PasswordField label="Password" name="password" autoComplete="new-password" errors={fields.password} />
        <PasswordField label="Password again" name="password2" autoComplete="new-password" errors={fields.password2} />
        <Submit busy={busy} label="Register" busyLabel="Creating your account…" />
      </form>
      <p>
        Already registered? <a href="/login">Sign in</a>.
      </p>
    </>
  );
}
