import { useEffect, useState } from "preact/hooks";
import * as api from "./endpoints";
import { useSession } from "./hooks";
import { navigate, useLocation } from "./router";
import { About } from "./screens/About";
import { AnonymousCutter } from "./screens/AnonymousCutter";
import { Files } from "./screens/Files";
import { Filters } from "./screens/Filters";
import { Lineage } from "./screens/Lineage";
import { Login } from "./screens/Login";
import { Register } from "./screens/Register";
import { SavedCutter } from "./screens/SavedCutter";
import { Upload } from "./screens/Upload";

type Screen = { title: string; signedIn?: boolean; render: () => preact.JSX.Element };

function route(path: string, query: URLSearchParams, signedIn: boolean): Screen {
  const file = path.match(/^\/files\/([^/]+)\/(cut|lineage)$/);
  if (file) {
    const id = decodeURIComponent(file[1]);
    return file[2] === "cut"
      ? { title: "Cut a saved file", signedIn: true, render: () => <SavedCutter fileId={id} /> }
      : { title: "Lineage", signedIn: true, render: () => <Lineage fileId={id} /> };
  }
  switch (path) {
    case "/":
      return { title: "Cut a CSV", render: () => <AnonymousCutter signedIn={signedIn} /> };
    case "/login":
      return { title: "Sign in", render: () => <Login query={query} /> };
    case "/register":
      return { title: "Register", render: () => <Register /> };
    case "/files":
      return { title: "My files", signedIn: true, render: () => <Files /> };
    case "/upload":
      return { title: "Upload", signedIn: true, render: () => <Upload /> };
    case "/filters":
      return { title: "Saved filters", signedIn: true, render: () => <Filters /> };
    case "/about":
      return { title: "About", render: () => <About /> };
    default:
      return {
        title: "Not found",
        render: () => (
          <>
            <h1 tabIndex={-1}>Page not found</h1>
            <p>
              There is no page at {path}. <a href="/">Cut a CSV</a> or read <a href="/about">about List Cutter</a>.
            </p>
          </>
        ),
      };
  }
}

export function App() {
  const session = useSession();
  const { path, query } = useLocation();
  const screen = route(path, query, !!session);
  const mustSignIn = screen.signedIn && !session;

  useEffect(() => {
    // A screen for signed-in users sends others to sign in, and back afterwards.
    if (mustSignIn) navigate(`/login?next=${encodeURIComponent(path + location.search)}`, true);
  }, [mustSignIn, path]);

  useEffect(() => {
    document.title = `${screen.title} · List Cutter`;
    // Keyboard and screen-reader users land on the new page's heading.
    document.querySelector<HTMLElement>("main h1")?.focus();
  }, [path]);

  return (
    <>
      <a class="skip" href="#main">
        Skip to the content
      </a>
      <header class="top">
        <a class="brand" href="/">
          List Cutter
        </a>
        <nav aria-label="Main">
          <ul>
            <NavLink href="/" path={path} label="Cut a CSV" />
            {session && <NavLink href="/files" path={path} label="My files" />}
            {session && <NavLink href="/upload" path={path} label="Upload" />}
            {session && <NavLink href="/filters" path={path} label="Saved filters" />}
            <NavLink href="/about" path={path} label="About" />
          </ul>
        </nav>
        <Account signedInAs={session?.user.username} />
      </header>
      <main id="main">{mustSignIn ? null : screen.render()}</main>
    </>
  );
}

function NavLink({ href, path, label }: { href: string; path: string; label: string }) {
  return (
    <li>
      <a href={href} aria-current={path === href ? "page" : undefined}>
        {label}
      </a>
    </li>
  );
}

function Account({ signedInAs }: { signedInAs?: string }) {
  const [busy, setBusy] = useState(false);
  if (!signedInAs) {
    return (
      <div class="account">
        <a href="/login">Sign in</a>
        <a href="/register">Register</a>
      </div>
    );
  }
  return (
    <div class="account">
      <span class="who">Signed in as {signedInAs}</span>
      <button
        type="button"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          // Signed out locally even when the server cannot be reached.
          await api.logout().catch(() => undefined);
          setBusy(false);
          navigate("/login", true);
        }}
      >
        {busy ? "Signing out…" : "Sign out"}
      </button>
    </div>
  );
}
