// Drives the dashboard in headless Chromium: sign in (with the operator token,
// or an admin's username and password), set a percentage through the
// confirmation step, and read it back in the status panel (with the replication
// and dead-letter lines).
// Usage: node e2e/browser/dashboard.mjs <gateway url> token:<token>|login:<user>:<password> <percentage>
import { launch, watch } from "./chromium.mjs";

const [gateway, credentials, percentage] = process.argv.slice(2);
const [kind, ...rest] = (credentials || "").split(":");
if (!gateway || !["token", "login"].includes(kind) || !percentage) {
  console.error("usage: dashboard.mjs <gateway url> token:<token>|login:<user>:<password> <percentage>");
  process.exit(2);
}

const browser = await launch();
const problems = [];
try {
  const page = await browser.newPage();
  // The browser's own favicon probe is not the page's doing.
  watch(page, problems, (_status, url) => url.pathname === "/favicon.ico");
  await page.goto(gateway + "/admin/");
  if (kind === "token") {
    await page.fill("#token-form input[name=token]", rest.join(":"));
    await page.click("#token-form button");
  } else {
    const [username, ...password] = rest;
    await page.fill("#login-form input[name=username]", username);
    await page.fill("#login-form input[name=password]", password.join(":"));
    await page.click("#login-form button");
  }
  await page.waitForSelector("#console:not([hidden])", { timeout: 10000 });
  await page.waitForFunction(() => document.getElementById("traffic-percentage").textContent !== "–");

  await page.fill("#percentage", percentage);
  await page.fill("#percentage-form input[name=reason]", "dashboard test");
  await page.click("#percentage-form button");
  await page.waitForSelector("#confirm:not([hidden])");
  await page.click("#confirm-yes");
  await page.waitForFunction(
    (p) => document.getElementById("traffic-percentage").textContent === p,
    percentage,
    { timeout: 10000 },
  );
  // For a look at the page: SCREENSHOT=/tmp/dashboard.png
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  const shown = await page.textContent("#traffic-percentage");
  const audit = await page.textContent("#audit tbody tr:first-child");
  const charts = await page.locator("#charts svg").count();
  const replication = await page.textContent("#replication");
  await page.waitForFunction(() => document.getElementById("dead-letters").textContent !== "–");
  const deadLetters = await page.textContent("#dead-letters");
  console.log(JSON.stringify({ shown, audit, charts, replication, deadLetters, problems }));
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
