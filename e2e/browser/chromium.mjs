// What the browser tests share: Debian's Chromium, started headless the same
// way each time, and a watch on a page that records script errors, console
// errors and failed HTTP responses as problems.
import { chromium } from "playwright-core";

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** Pushes onto `problems` every page error, console error and response with a
 * status of 400 or more, unless `excused(status, url)` says the test caused it. */
export function watch(page, problems, excused = () => false) {
  // A CSP violation or script error is a failure of the page, not noise.
  page.on("pageerror", (err) => problems.push("page error: " + err.message));
  page.on("console", (msg) => {
    // Failed loads are reported with their URL below.
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) {
      problems.push("console error: " + msg.text());
    }
  });
  page.on("response", (resp) => {
    const url = new URL(resp.url());
    if (resp.status() >= 400 && !excused(resp.status(), url)) problems.push(`${resp.status()} for ${resp.url()}`);
  });
}
