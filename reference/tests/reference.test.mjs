// The API reference in a real browser (headless Debian Chromium driven by playwright-core):
// open /docs/ on a running local API, check that every operation of openapi.json is listed,
// create a company with try-it and see its 201, and keep a screenshot for the README. Any
// browser console error, and any request that would leave this machine, fails the test.
//
//   node --test reference/tests/   (scripts/browser-test.sh installs Chromium and builds the API)
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const root = new URL("../../", import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts the local API (in-memory store) and resolves with its base URL once it listens. */
async function startApi() {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port) };
  delete env.AWS_ENDPOINT_URL_DYNAMODB;
  const child = spawn(`${root}target/debug/local-api`, [], { env, stdio: ["ignore", "pipe", "inherit"] });
  const base = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the local API did not start: ${out}`)), 30000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("companies local API on")) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${port}`);
      }
    });
    child.once("exit", (code) => reject(new Error(`the local API exited (${code}): ${out}`)));
  });
  return { base, stop: () => child.kill() };
}

test("the reference lists every operation and its try-it creates a company", async () => {
  const api = await startApi();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const spec = await (await fetch(`${api.base}/openapi.json`)).json();
    const expected = [];
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const method of Object.keys(item)) {
        if (method !== "parameters") expected.push(`${method.toUpperCase()} ${path}`);
      }
    }

    const context = await browser.newContext({ viewport: { width: 1280, height: 1600 } });
    const leaks = [];
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (["127.0.0.1", "localhost"].includes(url.hostname)) return route.continue();
      leaks.push(url.href);
      return route.abort();
    });
    const page = await context.newPage();
    const errors = [];
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(String(error)));

    await page.goto(`${api.base}/docs/`);
    await page.waitForSelector(".opblock");
    const listed = await page.$$eval(".opblock", (blocks) =>
      blocks.map((b) => {
        const method = b.querySelector(".opblock-summary-method")?.textContent.trim();
        const path = b.querySelector(".opblock-summary-path")?.getAttribute("data-path");
        return `${method} ${path}`;
      }),
    );
    assert.deepEqual([...listed].sort(), [...expected].sort(), "every operation is listed once");
    mkdirSync(`${root}target`, { recursive: true });
    await page.screenshot({ path: `${root}target/docs-reference.png` });

    // Try it: create a company with the documented example.
    const create = page.locator(".opblock-post", { has: page.locator('[data-path="/companies"]') });
    await create.locator(".opblock-summary").click();
    await create.locator(".try-out__btn").click();
    await create.locator(".execute").click();
    const status = create.locator(".live-responses-table tbody .response-col_status").first();
    await status.waitFor();
    assert.equal((await status.textContent()).trim(), "201");
    const page2 = await (await fetch(`${api.base}/companies`)).json();
    assert.equal(page2.items.length, 1, "the try-it request reached the local API");

    await page.screenshot({ path: `${root}target/docs-try-it.png` });
    assert.deepEqual(errors, [], "no browser console errors");
    assert.deepEqual(leaks, [], "no request leaves the machine");
  } finally {
    await browser.close();
    api.stop();
  }
});
