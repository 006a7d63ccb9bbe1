// Portal single sign-on in headless Chromium: open <gateway>/portal, click "Sign in with
// <idp name>", sign in at the IdP as <login> (devInteractions), consent, and land on /portal.
// Prints one JSON line: {"url", "text", "cookies"} after sign-in and {"after_logout"} after
// clicking "Sign out". Usage: node portal_sso.mjs <gateway url> <idp name> <login>.
import { bodyText, chooseIdp, cookieFlags, launch, signInAtIdp } from "./sso_steps.mjs";

const [gateway, idpName, login] = process.argv.slice(2);
const origin = new URL(gateway).origin;
const browser = await launch();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${gateway}/portal`);
  await chooseIdp(page, idpName);
  await signInAtIdp(page, login, origin);
  await page.getByText("Signed in as").waitFor({ timeout: 20000 }).catch(() => {});
  const signedIn = {
    url: page.url(),
    text: await bodyText(page),
    cookies: await cookieFlags(context, gateway),
  };
  let afterLogout = "";
  const signOut = page.getByRole("button", { name: "Sign out" });
  if (await signOut.count()) {
    await signOut.click();
    await page.getByRole("link", { name: `Sign in with ${idpName}` }).waitFor({ timeout: 20000 })
      .catch(() => {});
    afterLogout = await bodyText(page);
  }
  console.log(JSON.stringify({ ...signedIn, after_logout: afterLogout,
    cookies_after_logout: await cookieFlags(context, gateway) }));
} finally {
  await browser.close();
}
