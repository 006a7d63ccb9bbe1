// Drives conduit's /login page in headless Chromium (Debian's, through playwright-core):
// prints "CODE <user code>" once the page shows it, then waits for "Signed in." and prints
// "SIGNED_IN". Usage: node login_page.mjs <login url>. CHROMIUM overrides the browser path.
import { launch } from "./sso_steps.mjs";

const url = process.argv[2];
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("code").textContent.length > 0, null, { timeout: 20000 });
  console.log("CODE " + (await page.textContent("#code")));
  try {
    await page.getByText("Signed in.", { exact: true }).waitFor({ timeout: 30000 });
  } catch (e) {
    console.error("the page says: " + (await page.textContent("body")));
    throw e;
  }
  console.log("SIGNED_IN");
} finally {
  await browser.close();
}
