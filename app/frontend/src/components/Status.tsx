/** An error from the API (announced at once) or nothing. */
export function ErrorMessage({ message }: { message: string }) {
  return message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;
}

/** A note that something is loading or done (announced politely). */
export function Notice({ message }: { message: string }) {
  return message ? (
    <p class="notice" role="status">
      {message}
    </p>
  ) : null;
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-busy="true">
      Loading {what}…
    </p>
  );
}
