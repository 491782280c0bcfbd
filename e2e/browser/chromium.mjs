// What the browser tests share: Debian's Chromium, started headless the same
// way each time, a watch on a page that records script errors, console
// errors and failed HTTP responses as problems, the dashboard's token sign-in, and
// the frame of a test script.
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

/** Runs a browser test script: checks its `count` arguments (else prints
 * `usage` and exits 2), launches Chromium, awaits `body(args, browser, problems)`,
 * prints what it returned with the problems as one JSON line, and exits 1 when
 * there was a problem. */
export async function run(usage, count, body) {
  const args = process.argv.slice(2);
  if (args.slice(0, count).filter(Boolean).length < count) {
    console.error("usage: " + usage);
    process.exit(2);
  }
  const browser = await launch();
  const problems = [];
  try {
    const seen = await body(args, browser, problems);
    console.log(JSON.stringify({ ...seen, problems }));
  } finally {
    await browser.close();
  }
  if (problems.length) {
    console.error(problems.join("\n"));
    process.exit(1);
  }
}
