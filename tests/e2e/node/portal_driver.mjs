// The portal's browser, driven one step at a time by tests/e2e/test_portal.py: headless
// Chromium (Debian's, through playwright-core) on one page of one context, for one person.
// A story needs Python between its browser steps (the anthropic SDK with a key the page just
// showed, the admin API, the ledger), so this script reads one JSON command per stdin line and
// answers each with one JSON line on stdout: {"ok": true, "result": …} or
// {"ok": false, "error": "…", "page": {…}}.
//
// Usage: node portal_driver.mjs <gateway url>. SCREENSHOT_DIR: where `shot` writes PNGs (no
// file without it).
//
// Commands ({"cmd": name, …}); those that load a page answer with `info` of the page:
//   goto {path}                      open a gateway path (or a whole URL)
//   reload                           load the current page again
//   fill {label, value, within?}     type into the field with that label (exact); `within`: a
//                                    CSS selector for the part of the page to look in
//   select {label, option, within?}  choose an option by its text (exact, else prefix) or value
//   check {label, within?}           tick a checkbox
//   click {name, role?, exact?, row?, within?, last?, navigate?}
//                                    click the button (or `role`) with that accessible name
//                                    (exact unless exact is false); `row`: only in the table row
//                                    containing that text; `last`: the last of several; waits for
//                                    the next page unless navigate is false
//   tab_to {name, max?}              press Tab until the focused element is named `name` (its
//                                    text, label or aria-label); how many presses it took
//   type {text}                      type with the keyboard into the focused element
//   press {key, navigate?}           press a key (and wait for the next page)
//   sso {idp, login}                 "Sign in with <idp>", then the IdP's login and consent
//   dom {selector}                   the matching elements: tag, text, attributes
//   csrf                             the first csrf field's value on the page
//   fetch {path}                     GET with this context's cookies: {status, headers, text}
//   post {path, form}                POST a form with this context's cookies (no page change):
//                                    {status, headers, text, h1}
//   frame {src}                      a page of another loopback origin framing `src` (and a
//                                    control frame of its own): what each frame shows
//   cookies                          the context's cookies for the gateway, without values
//   shot {name}                      a full-page PNG of the page into SCREENSHOT_DIR/<name>.png
//   info                             the page as it is
//   quit
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { bodyText, chooseIdp, cookieFlags, launch, signInAtIdp, TIMEOUT } from "./sso_steps.mjs";

const gateway = process.argv[2].replace(/\/$/, "");
const origin = new URL(gateway).origin;
const shots = process.env.SCREENSHOT_DIR || "";

const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
context.setDefaultTimeout(TIMEOUT);
const page = await context.newPage();

// Every dialog the pages opened (a confirmation is accepted, anything else dismissed): an
// injected alert() would show up here.
const dialogs = [];
page.on("dialog", async (d) => {
  dialogs.push({ type: d.type(), message: d.message() });
  if (d.type() === "confirm") await d.accept();
  else await d.dismiss();
});
// Script errors and CSP violations reported by the console.
const consoleErrors = [];
page.on("console", (m) => {
  if (m.type() === "error") consoleErrors.push(m.text());
});
page.on("pageerror", (e) => consoleErrors.push(String(e)));
// The HTTP status of the main frame's latest document.
let docStatus = null;
page.on("response", (r) => {
  const req = r.request();
  if (req.isNavigationRequest() && req.frame() === page.mainFrame()) docStatus = r.status();
});

const url = (path) => (/^[a-z]+:/.test(path) ? path : gateway + path);

/// The page as a test sees it.
async function info() {
  const seen = await page.evaluate(() => {
    const text = (e) => (e ? e.textContent.replace(/\s+/g, " ").trim() : "");
    const visible = (el) => (el.checkVisibility ? el.checkVisibility() : el.offsetParent !== null);
    const context = (table) => {
      if (table.caption) return text(table.caption);
      const fig = table.closest("figure");
      if (fig && fig.querySelector("figcaption")) return text(fig.querySelector("figcaption"));
      const prev = document.evaluate(
        "preceding::*[self::h2 or self::h3 or self::figcaption or self::caption][1]",
        table, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
      return text(prev);
    };
    const cells = (tr) => [...tr.children].map(text);
    return {
      url: location.href,
      title: document.title,
      h1: [...document.querySelectorAll("h1")].map(text),
      status: [...document.querySelectorAll('[role="status"]')].map(text),
      alert: [...document.querySelectorAll('[role="alert"]')].map(text),
      text: document.body ? document.body.innerText : "",
      nav: [...document.querySelectorAll('nav[aria-label="Main"] a')].map((a) => ({
        text: text(a), href: a.getAttribute("href"), current: a.getAttribute("aria-current"),
      })),
      // Visible form controls with no accessible label (the accessibility rule of the portal).
      unlabelled: [...document.querySelectorAll("input, select, textarea")]
        .filter((el) => el.type !== "hidden" && visible(el))
        .filter((el) => !(el.labels && el.labels.length > 0)
          && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
        .map((el) => el.outerHTML.slice(0, 200)),
      tables: [...document.querySelectorAll("table")].map((t) => ({
        context: context(t),
        headers: [...t.querySelectorAll("thead th")].map(text),
        rows: [...t.querySelectorAll("tbody tr")].map(cells),
      })),
      figures: [...document.querySelectorAll("figure")].map((f) => ({
        caption: text(f.querySelector("figcaption")),
        svgs: [...f.querySelectorAll("svg")].map((s) => ({
          role: s.getAttribute("role"), label: s.getAttribute("aria-label"),
        })),
      })),
    };
  });
  return { ...seen, http_status: docStatus, dialogs: [...dialogs], console_errors: [...consoleErrors] };
}

/// Run `act` and wait for the next document to load.
async function andLoad(act) {
  const loaded = page.waitForEvent("load", { timeout: TIMEOUT });
  await act();
  await loaded;
  return info();
}

/// The page, or the one element `within` (a CSS selector) selects.
const scoped = (within) => (within ? page.locator(within) : page);

async function selectByText(locator, option) {
  const options = await locator.evaluate((el) =>
    [...el.options].map((o) => ({ value: o.value, label: o.textContent.trim() })));
  const hit = options.find((o) => o.label === option)
    || options.find((o) => o.value === option)
    || options.find((o) => o.label.startsWith(option));
  if (!hit) throw new Error(`no option ${JSON.stringify(option)} in ${JSON.stringify(options)}`);
  await locator.selectOption(hit.value);
  return hit;
}

const commands = {
  async goto({ path }) {
    const r = await page.goto(url(path));
    docStatus = r ? r.status() : docStatus;
    return info();
  },
  async reload() {
    const r = await page.reload();
    docStatus = r ? r.status() : docStatus;
    return info();
  },
  async fill({ label, value, within }) {
    await scoped(within).getByLabel(label, { exact: true }).fill(value);
    return null;
  },
  async select({ label, option, within }) {
    return selectByText(scoped(within).getByLabel(label, { exact: true }), option);
  },
  async check({ label, within }) {
    await scoped(within).getByLabel(label, { exact: true }).check();
    return null;
  },
  async click({ name, role = "button", exact = true, row, within, last = false, navigate = true }) {
    let scope = scoped(within);
    if (row !== undefined) scope = scope.locator("tr").filter({ hasText: row });
    let target = scope.getByRole(role, { name, exact });
    if (last) target = target.last();
    if (!navigate) {
      await target.click();
      return info();
    }
    return andLoad(() => target.click());
  },
  async tab_to({ name, max = 40 }) {
    for (let presses = 1; presses <= max; presses++) {
      await page.keyboard.press("Tab");
      const focused = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el) return null;
        const t = (e) => e.textContent.replace(/\s+/g, " ").trim();
        return {
          tag: el.tagName.toLowerCase(),
          text: t(el),
          labels: el.labels ? [...el.labels].map(t) : [],
          aria: el.getAttribute("aria-label"),
          id: el.id,
        };
      });
      if (focused && (focused.text === name || focused.labels.includes(name) || focused.aria === name)) {
        return { presses, focused };
      }
    }
    throw new Error(`${max} presses of Tab never focused ${JSON.stringify(name)}`);
  },
  async type({ text }) {
    await page.keyboard.type(text);
    return null;
  },
  async press({ key, navigate = true }) {
    if (!navigate) {
      await page.keyboard.press(key);
      return info();
    }
    return andLoad(() => page.keyboard.press(key));
  },
  async sso({ idp, login }) {
    await chooseIdp(page, idp);
    await signInAtIdp(page, login, origin);
    await page.getByText("Signed in as").waitFor({ timeout: TIMEOUT });
    return info();
  },
  async dom({ selector }) {
    return page.locator(selector).evaluateAll((els) => els.map((el) => ({
      tag: el.tagName.toLowerCase(),
      text: el.textContent,
      attrs: Object.fromEntries([...el.attributes].map((a) => [a.name, a.value])),
    })));
  },
  async fetch({ path }) {
    const r = await page.request.get(url(path), { maxRedirects: 0 });
    return { status: r.status(), headers: r.headers(), text: await r.text() };
  },
  async csrf() {
    return page.locator('input[name="csrf"]').first().inputValue();
  },
  async post({ path, form }) {
    const r = await page.request.post(url(path), { form, maxRedirects: 0 });
    const text = await r.text();
    const h1 = (text.match(/<h1[^>]*>([\s\S]*?)<\/h1>/) || [])[1] || null;
    return { status: r.status(), headers: r.headers(), text, h1 };
  },
  async frame({ src }) {
    // The framing page comes from a server of its own on loopback (another origin than the
    // gateway's, in the same address space, so nothing but the framed page's own headers can
    // stop it); its control frame is a page of that server, which sets no framing headers.
    const server = createServer((req, res) => {
      res.setHeader("content-type", "text/html; charset=utf-8");
      if (req.url === "/control") {
        res.end("<!doctype html><p id=control>control frame</p>");
        return;
      }
      res.end(`<!doctype html><title>framing</title>
        <iframe id="target" src="${url(src)}" width="800" height="400"></iframe>
        <iframe id="control" src="/control"></iframe>`);
    });
    await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
    try {
      await page.goto(`http://127.0.0.1:${server.address().port}/`, { waitUntil: "load" });
      // A refused frame loads an error page in its place; give it time either way.
      await page.waitForTimeout(1500);
      const frames = {};
      for (const id of ["target", "control"]) {
        const handle = await page.$(`iframe#${id}`);
        const frame = handle ? await handle.contentFrame() : null;
        let body = null;
        let hasPasswordForm = null;
        if (frame) {
          try {
            body = await frame.evaluate(() => (document.body ? document.body.innerText : ""));
            hasPasswordForm = await frame.evaluate(
              () => !!document.querySelector('input[name="username"], input[type="password"]'));
          } catch (e) {
            body = `(not readable: ${e.message})`;
          }
        }
        frames[id] = { url: frame ? frame.url() : null, body, has_password_form: hasPasswordForm };
      }
      return frames;
    } finally {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    }
  },
  async cookies() {
    return cookieFlags(context, gateway);
  },
  async shot({ name }) {
    if (!shots) return null;
    mkdirSync(shots, { recursive: true });
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    return path;
  },
  async info() {
    return info();
  },
};

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
try {
  for await (const line of lines) {
    if (!line.trim()) continue;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      reply({ ok: false, error: `not JSON: ${line}` });
      continue;
    }
    const { cmd, ...args } = msg;
    if (cmd === "quit") {
      reply({ ok: true, result: null });
      break;
    }
    const run = commands[cmd];
    if (!run) {
      reply({ ok: false, error: `unknown command ${cmd}` });
      continue;
    }
    try {
      reply({ ok: true, result: await run(args) });
    } catch (e) {
      let where = null;
      try {
        where = { url: page.url(), text: (await bodyText(page)).slice(0, 3000) };
      } catch {
        // the page may be gone
      }
      reply({ ok: false, error: String(e && e.stack ? e.stack : e), page: where });
    }
  }
} finally {
  await browser.close();
}
