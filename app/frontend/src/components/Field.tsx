import type { JSX } from "preact";

type Props = JSX.InputHTMLAttributes<HTMLInputElement> & {
  label: string;
  name: string;
  /** The API's errors for this field, shown under it and tied to it for screen readers. */
  errors?: string[];
  hint?: string;
};

/** A required password input; `autoComplete` tells a password manager whether
 * to fill in the saved password or to make a new one. */
export function PasswordField(props: Props & { autoComplete: "current-password" | "new-password" }) {
  return <Field type="password" required {...props} />;
}

/** A labelled input with its hint and its field errors. */
export function Field({ label, name, errors, hint, ...input }: Props) {
  const id = `field-${name}`;
  const described = [hint && `${id}-hint`, errors?.length && `${id}-error`].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        name={name}
        aria-invalid={errors?.length ? "true" : undefined}
        aria-describedby={described || undefined}
        {...input}
      />
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {errors?.length ? (
        <p class="field-error" id={`${id}-error`}>
          {errors.join(" ")}
        </p>
      ) : null}
    </div>
  );
}
