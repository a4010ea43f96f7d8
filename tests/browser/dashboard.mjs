// Drive the dev dashboard in Debian's Chromium, headless: open the banner's URL, see a request
// made with curl appear, redrive the dead-letter queue from the page, take a screenshot.
// Usage: node dashboard.mjs DASHBOARD_URL SERVER_URL SCREENSHOT_PATH (run by tests/dev/browser.rs).
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";

const [dashboard, server, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.PLUGBOARD_CHROMIUM || "/usr/bin/chromium",
  // As root on a closed network: no sandbox, no background connections.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const step = (what) => console.log(`step: ${what}`);
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.setDefaultTimeout(15000);
  await page.goto(dashboard);
  if (page.url().includes("token=")) throw new Error(`the token stayed in the address bar: ${page.url()}`);
  step("the page took the token out of its URL");

  const count = () => page.locator('tr[data-function="items"] td.invocations').textContent().then(Number);
  await page.locator('tr[data-function="items"]').waitFor();
  const before = await count();
  execFileSync("curl", ["-sf", "-o", "/dev/null", `${server}/items`]);
  await page.waitForFunction(
    (b) => Number(document.querySelector('tr[data-function="items"] td.invocations').textContent) > b, before);
  step(`a request made with curl appeared (items: ${before} -> ${await count()})`);

  const visible = 'tr[data-queue="plugboard-events-dlq"] td.visible';
  await page.waitForFunction((s) => document.querySelector(s)?.textContent === "1", visible);
  await page.locator('tr[data-queue="plugboard-events-dlq"] button.redrive').click();
  await page.waitForFunction(() => document.getElementById("peek").textContent.startsWith("moved 1 message"));
  await page.waitForFunction((s) => document.querySelector(s)?.textContent === "0", visible);
  step("the redrive from the page moved the dead-letter message");

  await page.screenshot({ path: screenshot, fullPage: true });
  step(`screenshot ${screenshot}`);
} finally {
  await browser.close();
}
