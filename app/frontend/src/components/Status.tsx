/** `message` in a paragraph that screen readers announce as `role` says, or nothing. */
function Announced({ message, kind, role }: { message: string; kind: string; role: "alert" | "status" }) {
  return message ? (
    <p class={kind} role={role}>
      {message}
    </p>
  ) : null;
}

/** An error from the API (announced at once) or nothing. */
export function ErrorMessage({ message }: { message: string }) {
  return <Announced message={message} kind="error" role="alert" />;
}

/** A note that something is loading or done (announced politely). */
export function Notice({ message }: { message: string }) {
  return <Announced message={message} kind="notice" role="status" />;
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-busy="true">
      Loading {what}…
    </p>
  );
}
