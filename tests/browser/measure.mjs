// The console's speed as a user sees it, measured in headless Chromium with the
// Performance API (issue 16's targets at 1M contacts):
// - contacts page interactive: navigation start → the first page's rows on screen;
// - search answered on screen: the query typed → its ranked rows on screen (the typing
//   pause before a search is sent included);
// - a column sorted: the header clicked → the sorted rows on screen;
// - the segment sidebar: `GET /api/segments` as the browser timed it (Resource Timing),
//   and navigation start → counts on screen.
//
//   node tests/browser/measure.mjs <base_url> <token> [runs]
//
// Prints one JSON object of medians (ms) and every sample.
import { chromium } from 'playwright-core';

const [base, token, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 5);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
context.setDefaultTimeout(60_000);
await context.addInitScript((t) => sessionStorage.setItem('contacts.token', t), token);
const page = await context.newPage();

const idle = () => page.locator('.table-wrap[aria-busy="false"]').waitFor();
// Each figure is read from the console's own User Timing marks (`contacts:rows` when a page
// of rows is painted, `contacts:segments` when the counts are), not from when this script
// noticed: the driver's polling adds nothing to them.
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const samples = { interactive: [], sidebar_request: [], sidebar_on_screen: [], search: [], sort: [] };

/** The latest User Timing mark `name` the console left (when it painted that state). */
const lastMark = (name) => page.evaluate((n) => performance.getEntriesByName(n).at(-1)?.startTime ?? NaN, name);

for (let i = 0; i < runs; i += 1) {
  // A new document each run (a query string), so the Performance API times from its navigation.
  await page.goto(`${base}/?run=${i}#/contacts`);
  await page.locator('table.contacts-table tbody tr').first().waitFor();
  await idle();
  samples.interactive.push(await lastMark('contacts:rows'));
  await page.waitForFunction(() => performance.getEntriesByName('contacts:segments').length > 0);
  samples.sidebar_on_screen.push(await lastMark('contacts:segments'));
  samples.sidebar_request.push(
    await page.evaluate(() => {
      const entries = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/api/segments'));
      return entries[entries.length - 1].duration;
    }),
  );

  // Search: from the query typed to its rows (with their match kind) painted.
  const query = ['lima', 'silva', 'santos', 'oliveira', 'lima'][i % 5]; // tests/src/gen.rs LAST_NAMES
  const searchBox = page.getByRole('searchbox', { name: 'Search contacts' });
  await searchBox.focus();
  const typed = await page.evaluate(() => performance.now());
  await searchBox.fill(query);
  await page.locator('.badge', { hasText: /exact|prefix|substring|typo/ }).first().waitFor();
  await idle();
  samples.search.push((await lastMark('contacts:rows')) - typed);
  await searchBox.fill('');
  await page.locator('th', { hasText: 'Match' }).waitFor({ state: 'detached' });
  await idle();

  // Sort: from the click to the sorted rows painted.
  const column = ['Last name', 'Company', 'Updated'][i % 3];
  const header = page.locator('table.contacts-table thead').getByRole('button', { name: column });
  await header.hover();
  const clicked = await page.evaluate(() => performance.now());
  await header.click();
  await page.locator('th[aria-sort]').waitFor();
  await idle();
  samples.sort.push((await lastMark('contacts:rows')) - clicked);
}

const result = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, { median_ms: Math.round(median(v) * 10) / 10, samples_ms: v.map((x) => Math.round(x)) }]));
console.log(JSON.stringify(result));
await browser.close();
