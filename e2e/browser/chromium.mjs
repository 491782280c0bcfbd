// What the browser tests share: Debian's Chromium, started headless the same
// way each time, a watch on a page that records script errors, console
// errors and failed HTTP responses as problems, and the dashboard's token sign-in.
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

/** Opens the dashboard on `page` and signs in with the operator token. */
export async function signInWithToken(page, gateway, token) {
  await page.goto(gateway + "/admin/");
  await page.fill("#token-form input[name=token]", token);
  await page.click("#token-form button");
  await page.waitForSelector("#console:not([hidden])", { timeout: 10000 });
}
