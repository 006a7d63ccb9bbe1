// Approves a Claude Code device code at a conduit team gateway in headless Chromium, as a
// person would: open the verification URL the terminal shows, type the code, sign in at the
// IdP, press Approve.
// Usage: node device_approve.mjs <verification url> <user code>
// Env: E2E_LOGIN (the IdP login). Prints "APPROVED" on success; progress and failures (with
// the page's text) on stderr.
import { TIMEOUT, bodyText, launch, signInAtIdp } from "./sso_steps.mjs";

const [url, code] = process.argv.slice(2);
const origin = new URL(url).origin;
const step = (s) => console.error(`device_approve: ${s}`);

const browser = await launch();
let page;
try {
  page = await (await browser.newContext()).newPage();
  await page.goto(url);
  step(`opened ${new URL(url).pathname}`);
  const input = page.locator('input[name="user_code"]');
  if ((await input.inputValue()) === "") await input.fill(code);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForLoadState("domcontentloaded");
  if (!page.url().startsWith(origin)) {
    step("at the IdP");
    await signInAtIdp(page, process.env.E2E_LOGIN, origin);
    step("back at the gateway");
  }
  const approve = page.getByRole("button", { name: "Approve" });
  await approve.waitFor({ timeout: TIMEOUT }).catch(async () => {
    throw new Error(`no Approve button; the page says: ${await bodyText(page)}`);
  });
  await approve.click();
  await page.getByText("Device approved").waitFor({ timeout: TIMEOUT }).catch(async () => {
    throw new Error(`not approved; the page says: ${await bodyText(page)}`);
  });
  console.log("APPROVED");
} catch (e) {
  step(`failed: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
