// The dashboard's shadow panel in headless Chromium: sign in with the operator
// token, read the per-route table (counts, the last difference) and the chart,
// then set the sample rate through the confirmation step and read it back.
// Usage: node e2e/browser/shadow.mjs <gateway url> <operator token> <percent>
import { run, signInWithToken, watch } from "./chromium.mjs";

await run("shadow.mjs <gateway url> <operator token> <percent>", 3, async ([gateway, token, percent], browser, problems) => {
  const seen = {};
  const page = await browser.newPage();
  watch(page, problems, (_status, url) => url.pathname === "/favicon.ico");
  await signInWithToken(page, gateway, token);
  await page.waitForSelector("#shadow tbody tr", { timeout: 10000 });
  seen.rows = await page.$$eval("#shadow tbody tr", (trs) =>
    trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  seen.example = await page.textContent("#shadow tbody");
  seen.total = await page.textContent("#shadow-total");
  seen.charts = await page.locator("#shadow-chart svg").count();

  await page.fill("#shadow-rate-input", percent);
  await page.click("#shadow-form button[type=submit]");
  await page.waitForSelector("#confirm:not([hidden])");
  await page.click("#confirm-yes");
  await page.waitForFunction(
    (p) => document.getElementById("shadow-rate").textContent === p + "%",
    percent,
    { timeout: 10000 },
  );
  seen.rate = await page.textContent("#shadow-rate");
  // For a look at the page: SCREENSHOT=/tmp/shadow.png
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  return seen;
});
