// The dashboard page in Debian's chromium, driven by playwright-core (run by
// test-dashboard.sh, which starts etcd, the heartbeats and the dashboard and passes):
//   DASHBOARD_URL, ETCD_URL, SERVICES (identifiers, comma-separated), VICTIM (one of them, in
//   a heartbeat process of its own: VICTIM_PID), TTL (seconds), ARTIFACTS (screenshots),
//   CHROMIUM, PLAYWRIGHT_DIR; DASHBOARD_SKIP_10K=1 skips the 10,000-key part.
// Every wait is for a condition with a deadline. Exits 1 when a check failed.
import { createRequire } from "node:module";
import path from "node:path";

const env = process.env;
const require = createRequire(path.join(env.PLAYWRIGHT_DIR, "package.json"));
const { chromium } = require("playwright-core");

const URL = env.DASHBOARD_URL;
const SERVICES = env.SERVICES.split(",");
const VICTIM = env.VICTIM;
const TTL = Number(env.TTL);
const BULK = 10000;
let passed = 0;
let failed = 0;

const pass = (what) => {
  passed++;
  console.log("ok   - " + what);
};
const fail = (what) => {
  failed++;
  console.error("FAIL - " + what);
};
const figure = (what) => console.log("# figure: " + what);
async function check(what, fn) {
  try {
    await fn();
    pass(what);
    return true;
  } catch (e) {
    fail(what + ": " + (e && e.message ? e.message.split("\n")[0] : e));
    return false;
  }
}
function expect(cond, message) {
  if (!cond) throw new Error(message);
}
const rowsSelector = ".viewport .row";
const stateOf = (page, id) =>
  page.locator(`${rowsSelector}[data-id="${id}"]`).getAttribute("data-state", { timeout: 2000 });
const count = async (page, filter) =>
  Number(await page.locator(`.chip[data-filter="${filter}"] .n`).textContent());

// Writes `n` health keys straight into etcd (its JSON gateway, 500 puts a transaction).
async function putBulk(n) {
  const b64 = (s) => Buffer.from(s).toString("base64");
  const now = new Date().toISOString();
  for (let start = 0; start < n; start += 500) {
    const success = [];
    for (let i = start; i < Math.min(n, start + 500); i++) {
      const id = "bulk.capability." + String(i).padStart(5, "0");
      const value = JSON.stringify({
        status: i % 10 === 0 ? "unhealthy" : "healthy", timestamp: now, namespace: id,
        heartbeat_count: i, ttl: 30, interval: 10, mode: "on-change", check: "none",
      });
      success.push({ request_put: { key: b64(`/chora/capabilities/${id}/health`), value: b64(value) } });
    }
    const answer = await fetch(env.ETCD_URL + "/v3/kv/txn", {
      method: "POST", body: JSON.stringify({ success }),
    });
    expect(answer.ok, "etcd refused a bulk put: " + answer.status);
  }
}

const browser = await chromium.launch({
  executablePath: env.CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const t0 = Date.now();
  await page.goto(URL + "/");

  await check("the page connects to the live stream", () =>
    page.getByRole("status").filter({ hasText: /^live$/ }).waitFor({ timeout: 10000 }));
  await check(`the page shows the ${SERVICES.length} sample capabilities as healthy`, async () => {
    await page.waitForFunction(
      (ids) => ids.every((id) => document.querySelector(`.viewport .row[data-id="${id}"]`)?.dataset.state === "healthy"),
      SERVICES, { timeout: 15000 });
    expect((await count(page, "healthy")) === SERVICES.length, "summary healthy != " + SERVICES.length);
  });
  figure(`page load to every sample capability healthy: ${Date.now() - t0} ms`);
  await check("each row shows its lease, beat count and TTL countdown", async () => {
    const row = page.locator(`${rowsSelector}[data-id="${VICTIM}"]`);
    // Hexadecimal without leading zeros, as etcdctl prints it: up to 16 digits.
    expect(/^[0-9a-f]{1,16}$/.test(await row.locator(".lease").textContent()), "no lease id");
    expect(Number(await row.locator(".count").textContent()) >= 1, "no heartbeat count");
    expect(/s of 5s$/.test(await row.locator(".ttl").textContent()), "no TTL countdown");
    expect((await row.locator(".strip .tick").count()) >= 1, "no transition strip");
  });
  await check("the page loads nothing from outside the dashboard", async () => {
    const foreign = requests.filter((u) => !u.startsWith(URL));
    expect(foreign.length === 0, "requested " + foreign.join(", "));
  });
  await page.screenshot({ path: path.join(env.ARTIFACTS, "dashboard-healthy.png"), fullPage: true });

  await check("controls have accessible names", async () => {
    expect((await page.getByRole("searchbox", { name: "Search capabilities" }).count()) === 1, "search box");
    expect((await page.getByLabel("Sort by").count()) === 1, "sort select");
    expect((await page.getByRole("group", { name: "Filter by state" }).count()) === 1, "filter group");
    for (const name of ["All", "Healthy", "Unhealthy", "Pending", "Expired"]) {
      expect((await page.getByRole("button", { name: new RegExp("^" + name + " \\d+$") }).count()) === 1, name + " button");
    }
    expect((await page.getByRole("table", { name: "Capabilities" }).count()) === 1, "table");
    expect((await page.getByRole("row", { name: VICTIM + ", healthy" }).count()) === 1, "row name");
  });

  // The lone capability's process dies: its lease expires after its TTL.
  await page.evaluate(() => { window.__sameDocument = true; });
  const killed = Date.now();
  process.kill(Number(env.VICTIM_PID), "SIGKILL");
  await check(`the killed capability turns expired on screen without a reload, within its TTL (${TTL} s) + 3 s (etcd's expiry check, the 0.5 s publish interval)`, async () => {
    await page.waitForFunction(
      (id) => document.querySelector(`.viewport .row[data-id="${id}"]`)?.dataset.state === "expired",
      VICTIM, { timeout: TTL * 1000 + 3000, polling: 100 });
    figure(`SIGKILL to expired on screen: ${Date.now() - killed} ms (TTL ${TTL} s)`);
    expect(await page.evaluate(() => window.__sameDocument === true), "the page reloaded");
  });
  await check("  ... it stays listed, with when it went, and the summary counts it", async () => {
    const row = page.locator(`${rowsSelector}[data-id="${VICTIM}"]`);
    expect(/^gone \d+s ago$/.test(await row.locator(".ttl").textContent()), "no 'gone ... ago'");
    expect((await row.locator(".strip .tick").last().getAttribute("data-state")) === "expired", "strip");
    expect((await count(page, "expired")) === 1, "summary expired != 1");
    expect((await count(page, "healthy")) === SERVICES.length - 1, "summary healthy");
    for (const id of SERVICES.filter((s) => s !== VICTIM)) {
      expect((await stateOf(page, id)) === "healthy", id + " is not healthy");
    }
  });
  await page.screenshot({ path: path.join(env.ARTIFACTS, "dashboard-expired.png"), fullPage: true });

  await check("search filters the rows", async () => {
    await page.getByRole("searchbox", { name: "Search capabilities" }).fill("awareness");
    const want = SERVICES.filter((s) => s.includes("awareness")).length;
    await page.waitForFunction((n) => document.querySelectorAll(".viewport .row").length === n, want, { timeout: 5000 });
    const ids = await page.locator(rowsSelector).evaluateAll((els) => els.map((e) => e.dataset.id));
    expect(ids.every((id) => id.includes("awareness")), "rows " + ids.join(","));
    await page.getByRole("searchbox", { name: "Search capabilities" }).fill("");
    await page.waitForFunction((n) => document.querySelectorAll(".viewport .row").length === n, SERVICES.length, { timeout: 5000 });
  });
  await check("the Expired filter shows only the expired row", async () => {
    const expired = page.getByRole("button", { name: /^Expired \d+$/ });
    await expired.click();
    expect((await expired.getAttribute("aria-pressed")) === "true", "not pressed");
    await page.waitForFunction(() => document.querySelectorAll(".viewport .row").length === 1, null, { timeout: 5000 });
    expect((await page.locator(rowsSelector).first().getAttribute("data-id")) === VICTIM, "wrong row");
    await page.getByRole("button", { name: /^All \d+$/ }).click();
  });

  await check("a 400 px wide viewport has no horizontal overflow", async () => {
    await page.setViewportSize({ width: 400, height: 800 });
    await page.waitForFunction(() => getComputedStyle(document.documentElement).getPropertyValue("--row-h").trim() === "68px", null, { timeout: 5000 });
    const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    expect(scroll <= client, `scrollWidth ${scroll} > clientWidth ${client}`);
    const overflowing = await page.locator(rowsSelector).evaluateAll((els) =>
      els.filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).length);
    expect(overflowing === 0, overflowing + " rows wider than the viewport");
  });
  await page.screenshot({ path: path.join(env.ARTIFACTS, "dashboard-narrow.png") });
  await page.setViewportSize({ width: 1280, height: 800 });

  if (env.DASHBOARD_SKIP_10K !== "1") {
    const total = SERVICES.length + BULK;
    const started = Date.now();
    await putBulk(BULK);
    figure(`${BULK} keys written into etcd in ${Date.now() - started} ms`);
    await check(`${BULK} keys written into etcd arrive live: the summary counts ${total}`, async () => {
      await page.waitForFunction((n) => Number(document.getElementById("n-total").textContent) === n, total, { timeout: 60000 });
      figure(`${BULK} keys: etcd write start to summary on the open page: ${Date.now() - started} ms`);
      expect((await count(page, "unhealthy")) === BULK / 10, "summary unhealthy");
    });
    await check("  ... with fewer than 200 row elements in the page (virtual scrolling)", async () => {
      const rows = await page.locator(rowsSelector).count();
      figure(`row elements with ${total} capabilities: ${rows}`);
      expect(rows > 0 && rows < 200, rows + " row elements");
    });
    await check("  ... and scrolling to the end renders the last rows", async () => {
      await page.getByLabel("Sort by").selectOption("id");
      // Scrolled to the end on every poll: a live update re-rendering the rows in between
      // (the sample keys beat every second) must not make the check miss the end.
      await page.waitForFunction((n) => {
        const v = document.querySelector(".viewport");
        v.scrollTop = v.scrollHeight;
        return !!document.querySelector(`.viewport .row[aria-rowindex="${n}"]`);
      }, total + 1, { timeout: 5000, polling: 100 });
      expect((await page.locator(rowsSelector).count()) < 200, "too many rows after scrolling");
    });
    await check(`a fresh page with ${total} keys loads and renders`, async () => {
      const fresh = await context.newPage();
      const loadStart = Date.now();
      await fresh.goto(URL + "/");
      await fresh.waitForFunction((n) => Number(document.getElementById("n-total").textContent) === n &&
        document.querySelectorAll(".viewport .row").length > 0, total, { timeout: 30000 });
      figure(`fresh page load with ${total} keys to first rows rendered: ${Date.now() - loadStart} ms`);
      const searchStart = Date.now();
      await fresh.getByRole("searchbox", { name: "Search capabilities" }).fill("capability.0999");
      await fresh.waitForFunction(() => document.querySelectorAll(".viewport .row").length === 10, null, { timeout: 5000 });
      figure(`search over ${total} keys to 10 rows shown: ${Date.now() - searchStart} ms`);
      await fresh.getByRole("searchbox", { name: "Search capabilities" }).fill("");
      await fresh.screenshot({ path: path.join(env.ARTIFACTS, "dashboard-10k.png") });
      await fresh.close();
    });
  }
} finally {
  await browser.close();
}
console.log(`# browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
