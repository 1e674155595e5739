// The web console in a real headless Chromium: every screen's main path, with axe-core on
// each screen (no serious or critical violation).
//
//   node tests/browser/console.mjs <base_url> <admin_token>
//
// The app must hold the contacts tests/tests/console.rs seeds. Each path names the API
// routes it stands on; one missing from GET /api/openapi.json fails the path by name. With
// SCREENSHOTS=<dir>, each screen is saved there as a PNG.
import { chromium } from 'playwright-core';
import axe from 'axe-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [base, adminToken] = process.argv.slice(2);
if (!base || !adminToken) {
  console.error('usage: node console.mjs <base_url> <admin_token>');
  process.exit(2);
}
const shots = process.env.SCREENSHOTS;
if (shots) mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, acceptDownloads: true });
context.setDefaultTimeout(15_000);
const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
// Nothing may be fetched from another host.
const foreign = [];
page.on('request', (r) => {
  const url = new URL(r.url());
  if (!['data:', 'blob:'].includes(url.protocol) && url.origin !== new URL(base).origin) foreign.push(r.url());
});

const api = async (method, path, body, token = adminToken) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, etag: res.headers.get('etag') };
};
const openapi = (await (await fetch(`${base}/api/openapi.json`)).json()).paths;
const served = (method, path) => Boolean(openapi[path]?.[method.toLowerCase()]);

let step = '';
const passed = [];
async function path(name, fn, needs = []) {
  step = name;
  const missing = needs.filter(([m, p]) => !served(m, p));
  assert.deepEqual(missing, [], 'the app serves every route this path stands on');
  await fn();
  passed.push(name);
  console.log(`ok   ${name}`);
}

/** axe-core on what is on screen now; fails on a serious or critical violation. */
async function accessible(screen) {
  // Through the DevTools protocol: the page's CSP (no inline script) stays enforced.
  await page.evaluate(axe.source);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')})`);
  assert.deepEqual(report, [], `axe on ${screen}`);
  if (shots) await page.screenshot({ path: join(shots, `${screen}.png`) });
}

/** Waits until the table's row count passes `test` (a page loads after its controls change). */
const rowCount = (min, max = min) =>
  page.waitForFunction(
    ([lo, hi]) => {
      const n = document.querySelectorAll('table.contacts-table tbody tr').length;
      return n >= lo && n <= hi;
    },
    [min, max],
  );
const table = () => page.locator('table.contacts-table');
const rows = () => table().locator('tbody tr');
const segmentButton = (name) => page.locator('nav[aria-label="Segments"] button.segment', { hasText: name });
const heading = () => page.locator('#contacts-title');
async function openSegment(name) {
  await segmentButton(name).click();
  await page.locator('#contacts-title', { hasText: name }).waitFor();
}
async function signIn(token) {
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
async function goContacts() {
  await page.getByRole('link', { name: 'Contacts', exact: true }).click();
  await table().waitFor();
}
const selectRow = (name) => page.getByRole('checkbox', { name: `Select ${name}`, exact: true }).check();

try {
  await path('sign in (a wrong token is refused)', async () => {
    await page.goto(base);
    await page.getByLabel('Access token').waitFor();
    await accessible('sign-in');
    await signIn('not-a-token');
    await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    await signIn(adminToken);
    await table().waitFor();
    assert.equal(await rows().count(), 50, 'the first page holds 50 contacts');
  });

  await path('contacts table: paging, keyboard and focus', async () => {
    await accessible('contacts');
    await page.getByRole('button', { name: 'Next →' }).click();
    await page.getByText('Page 2').waitFor();
    await rowCount(1, 49); // page 2 holds the rest
    await page.getByRole('button', { name: '← Previous' }).click();
    await page.getByText('Page 1').waitFor();
    await rowCount(50);
    // Keyboard: the customize dialog opens with Enter and closes with Escape; focus shows.
    await page.getByRole('button', { name: /^Filter/ }).focus();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Customize table', 'Tab reaches the next control');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'a focused button shows its focus');
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Customize table' }).waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  });

  await path('customize table (saved per user)', async () => {
    await page.getByRole('button', { name: 'Customize table' }).click();
    const dialog = page.getByRole('dialog', { name: 'Customize table' });
    await dialog.getByRole('region', { name: 'Fields not shown in table' }).getByRole('checkbox', { name: 'Job title' }).click();
    const visible = dialog.getByRole('region', { name: 'Fields visible in table' });
    await visible.getByRole('checkbox', { name: 'Job title' }).waitFor();
    await visible.getByRole('button', { name: 'Move Job title up' }).click();
    await accessible('customize-table');
    await dialog.getByRole('button', { name: 'Save table' }).click();
    await dialog.waitFor({ state: 'detached' });
    await table().getByRole('columnheader', { name: 'Job title' }).waitFor();
    await page.reload();
    await table().getByRole('columnheader', { name: 'Job title' }).waitFor();
    const saved = await api('GET', '/api/views/table');
    assert.ok(saved.body.columns.includes('job_title'), 'the view is saved through the API');
  });

  await path('sort by a column', async () => {
    const sortButton = table().getByRole('button', { name: 'Company' });
    await sortButton.click();
    await table().locator('th[aria-sort="ascending"]').waitFor();
    const first = (await api('GET', '/api/contacts?sort=company&limit=1&fields=display_name')).body.items[0];
    await rows().first().getByRole('link', { name: first.display_name, exact: true }).waitFor();
    await sortButton.click();
    await table().locator('th[aria-sort="descending"]').waitFor();
    const desc = await api('GET', '/api/contacts?sort=-company&limit=1&fields=company,display_name');
    await rows().first().getByRole('link', { name: desc.body.items[0].display_name, exact: true }).waitFor();
  });

  await path('search (ranked, with the match kind)', async () => {
    await page.getByRole('searchbox', { name: 'Search contacts' }).fill('zebulon');
    await rows().first().getByRole('link', { name: 'Zebulon Quist' }).waitFor();
    await table().getByRole('columnheader', { name: 'Match' }).waitFor();
    await accessible('search');
    await page.getByRole('searchbox', { name: 'Search contacts' }).fill('');
    await page.getByText('Page 1').waitFor();
    await rowCount(50);
  });

  await path('filter builder: nested groups, an error at its condition, save as segment', async () => {
    await page.getByRole('button', { name: /^Filter/ }).click();
    const panel = page.getByRole('region', { name: 'Filter builder' });
    await panel.getByRole('button', { name: '+ Condition' }).click();
    await panel.getByLabel('Condition 1: field').selectOption({ label: 'City' });
    await panel.getByLabel('Condition 1: value').fill('Paris');
    // An OR group inside: tag vip, or company starting with "Acme"; and a third level.
    await panel.getByRole('button', { name: '+ Group' }).click();
    const group = panel.locator('fieldset.depth-2');
    await group.getByLabel('Group at depth 2: match all or any').selectOption('any');
    await group.getByLabel('Condition 1: field').selectOption({ label: 'Tags' });
    await group.getByLabel('Condition 1: operator').selectOption('has_any');
    await group.getByLabel('Condition 1: value (comma-separated)').fill('vip');
    await group.getByRole('button', { name: '+ Group' }).click();
    const inner = group.locator('fieldset.depth-3');
    await inner.getByLabel('Condition 1: field').selectOption({ label: 'Company' });
    await inner.getByLabel('Condition 1: operator').selectOption('starts_with');
    await inner.getByLabel('Condition 1: value').fill('Acme');
    assert.equal(await inner.getByRole('button', { name: '+ Group' }).count(), 0, 'no group deeper than 3');
    await accessible('filter-builder');
    // A number condition with no value: the API names it, the builder marks that condition.
    await panel.getByRole('button', { name: '+ Condition' }).last().click();
    await panel.getByLabel('Condition 3: field').selectOption({ label: 'Score' });
    await panel.getByLabel('Condition 3: operator').selectOption('gt');
    await panel.getByRole('button', { name: 'Apply filter' }).click();
    await panel.locator('.condition.invalid').waitFor();
    const invalid = await panel.locator('.condition.invalid select').first().inputValue();
    assert.equal(invalid, 'custom.score', 'the condition the API named is marked');
    await panel.locator('.condition.invalid').getByRole('button', { name: 'Remove condition 3' }).click();
    await panel.getByRole('button', { name: 'Apply filter' }).click();
    const expected = await api('POST', '/api/query', {
      filter: { all: [{ field: 'city', op: 'eq', value: 'Paris' }, { any: [{ field: 'tags', op: 'has_any', value: ['vip'] }, { all: [{ field: 'company', op: 'starts_with', value: 'Acme' }] }] }] },
      limit: 1,
    });
    assert.ok(expected.body.total > 0, 'the seed has matches');
    await heading().getByText(`· ${expected.body.total}`).waitFor();
    assert.equal(await rows().count(), Math.min(50, expected.body.total));
    await panel.getByRole('button', { name: 'Save as segment' }).click();
    await page.getByLabel('Segment name').fill('Paris VIPs');
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.locator('#contacts-title', { hasText: 'Paris VIPs' }).waitFor();
    await segmentButton('Paris VIPs').locator('.count', { hasText: String(expected.body.total) }).waitFor();
    // Rename it.
    await page.getByRole('button', { name: 'Rename segment Paris VIPs' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Paris or VIP');
    await page.getByRole('button', { name: 'Rename', exact: true }).click();
    await segmentButton('Paris or VIP').waitFor();
    await accessible('saved-segment');
    // And delete it (admins only); its contacts stay.
    await page.getByRole('button', { name: 'Delete segment Paris or VIP' }).click();
    await page.getByRole('dialog', { name: 'Delete segment' }).getByRole('button', { name: 'Delete segment' }).click();
    await segmentButton('Paris or VIP').waitFor({ state: 'detached' });
    await page.locator('#contacts-title', { hasText: 'All' }).waitFor();
  });

  let target;
  await path('contact page: edit, ETag conflict, tags, identities, custom field, history', async () => {
    target = (await api('GET', '/api/search?q=zebulon')).body.items[0].contact_id;
    await page.goto(`${base}/#/contact/${target}`);
    await page.getByRole('heading', { name: 'Zebulon Quist', level: 1 }).waitFor();
    await page.getByRole('region', { name: 'Identities' }).getByText('tg-zebulon').waitFor();
    await accessible('contact');
    // Edit the city.
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('City', { exact: true }).fill('Lisboa');
    await dialog.getByLabel('Score', { exact: true }).fill('42');
    await accessible('contact-edit');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('region', { name: 'Address' }).getByText('Lisboa').waitFor();
    await page.getByRole('region', { name: 'Custom fields' }).getByText('42').waitFor();
    await page.getByRole('region', { name: 'History' }).getByText('update').first().waitFor();
    // Someone else edits meanwhile: the save is refused and their value shown.
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    await dialog.getByLabel('City', { exact: true }).fill('Porto');
    await api('PATCH', `/api/contacts/${target}`, { city: 'Madrid' });
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.getByText('Someone else changed this contact').waitFor();
    await dialog.getByText('Now: Madrid').waitFor();
    assert.equal((await api('GET', `/api/contacts/${target}`)).body.city, 'Madrid', 'nothing overwritten');
    await dialog.getByRole('button', { name: 'Reload their version' }).click();
    await page.getByRole('region', { name: 'Address' }).getByText('Madrid').waitFor();
    // Tags.
    await page.getByLabel('New tag').fill('followup');
    await page.getByRole('button', { name: 'Add tag' }).click();
    await page.getByRole('button', { name: 'Remove tag followup' }).waitFor();
    await page.getByRole('button', { name: 'Remove tag followup' }).click();
    await page.getByRole('button', { name: 'Remove tag followup' }).waitFor({ state: 'detached' });
    assert.ok(!(await api('GET', `/api/contacts/${target}`)).body.tags.includes('followup'));
  });

  await path('duplicate prompt', async () => {
    const dup = (await api('GET', '/api/search?q=duplicate')).body.items[0].contact_id;
    await page.goto(`${base}/#/contact/${dup}`);
    await page.getByText(/possible duplicates? of this contact/).waitFor();
  });

  await path('block and unblock', async () => {
    await page.goto(`${base}/#/contact/${target}`);
    await page.getByRole('button', { name: 'Block', exact: true }).click();
    await page.getByText('Blocked', { exact: true }).waitFor();
    await goContacts();
    await openSegment('Blocked');
    await rows().first().getByRole('link', { name: 'Zebulon Quist' }).waitFor();
    await accessible('blocked');
    await selectRow('Zebulon Quist');
    await page.getByRole('button', { name: 'Unblock', exact: true }).click();
    await page.getByText('No contacts here.').waitFor();
    await segmentButton('Blocked').locator('.count', { hasText: /^0$/ }).waitFor();
    assert.equal((await api('GET', `/api/contacts/${target}`)).body.blocked, false);
    await openSegment('All');
  });

  await path('delete with the typed count', async () => {
    await page.getByRole('searchbox', { name: 'Search contacts' }).fill('disposable');
    await rowCount(2);
    await page.getByRole('checkbox', { name: 'Select all on this page' }).check();
    await page.getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete contacts (2)' });
    const button = dialog.getByRole('button', { name: 'Delete', exact: true });
    assert.ok(await button.isDisabled(), 'disabled until the count is typed');
    await dialog.getByLabel('Type the number of contacts to delete').fill('3');
    assert.ok(await button.isDisabled(), 'a wrong count keeps it disabled');
    await dialog.getByLabel('Type the number of contacts to delete').fill('2');
    await accessible('delete-dialog');
    await button.click();
    await page.getByText('No contacts here.').waitFor();
    // With the bulk API the deletion ran as a job, whose banner the user dismisses.
    const dismiss = page.getByRole('button', { name: 'Dismiss' });
    if (await dismiss.count()) await dismiss.click();
    assert.equal((await api('GET', '/api/search?q=disposable')).body.items.length, 0);
    await page.getByRole('searchbox', { name: 'Search contacts' }).fill('');
  });

  await path('settings: custom fields, auto-create rules, tokens', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Custom fields' }).waitFor();
    const form = page.getByRole('form', { name: 'New custom field' });
    await form.getByLabel('Label').fill('Plan');
    await form.getByLabel('Key').fill('plan');
    await form.getByLabel('Type').selectOption('single_select');
    await form.getByLabel('Options (comma-separated)').fill('free, pro');
    await form.getByRole('button', { name: 'Add field' }).click();
    await page.getByRole('cell', { name: 'free, pro' }).waitFor();
    await page.getByLabel('telegram: enabled').uncheck();
    await page.getByRole('button', { name: 'Save rules' }).click();
    await page.getByText('Saved.').waitFor();
    assert.equal((await api('GET', '/api/settings/autocreate')).body.channels.telegram.enabled, false);
    const tokens = page.getByRole('form', { name: 'New access token' });
    await tokens.getByLabel('Login').fill('maria');
    await tokens.getByRole('button', { name: 'Issue token' }).click();
    await page.getByLabel('New token').waitFor();
    await accessible('settings');
  });

  await path('an agent sees no admin-only action; a 401 signs out', async () => {
    const agent = (await api('POST', '/api/tokens', { login: 'ana', role: 'agent' })).body.token;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(agent);
    await table().waitFor();
    assert.equal(await page.getByRole('link', { name: 'Settings' }).count(), 0, 'no settings for agents');
    await page.getByRole('checkbox', { name: 'Select all on this page' }).check();
    for (const name of ['Delete…', 'Block', 'Bulk update…', 'Merge…']) {
      assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `no ${name} for agents`);
    }
    await page.goto(`${base}/#/contact/${target}`);
    await page.getByRole('heading', { name: 'Zebulon Quist', level: 1 }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Delete', exact: true }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Edit', exact: true }).count(), 1, 'agents edit');
    await accessible('contact-agent');
    // A token that stops working sends the user back to sign in.
    await page.evaluate(() => sessionStorage.setItem('contacts.token', 'revoked'));
    await page.goto(`${base}/#/contacts`);
    await page.reload();
    await page.getByLabel('Access token').waitFor();
    await signIn(adminToken);
    await table().waitFor();
  });

  // The screens below stand on APIs built on other branches (SPEC §8–§9 routes).
  await path(
    'bulk: tag the whole segment, the progress bar reaching the end',
    async () => {
      await goContacts();
      const total = (await api('GET', '/api/segments')).body.items.find((s) => s.id === 'all').count;
      await page.getByRole('button', { name: 'Bulk update…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Bulk update' });
      await dialog.getByLabel('Action').selectOption('add_tags');
      await dialog.getByLabel('Tags (comma-separated)').fill('campaign-q4');
      await dialog.getByText(`Dry run: ${total.toLocaleString('en-US')} contact`).waitFor();
      await accessible('bulk-dialog');
      await dialog.getByRole('button', { name: /^Apply to/ }).click();
      await page.getByRole('progressbar').waitFor();
      await page.getByText(/^Done: /).waitFor({ timeout: 60_000 });
      assert.equal(await page.getByRole('progressbar').getAttribute('aria-valuenow'), String(total));
      await accessible('bulk-progress');
      await page.getByRole('button', { name: 'Dismiss' }).click();
      const tagged = await api('POST', '/api/query', { filter: { all: [{ field: 'tags', op: 'has_any', value: ['campaign-q4'] }] }, limit: 1 });
      assert.equal(tagged.body.total, total);
    },
    [['POST', '/api/bulk'], ['GET', '/api/bulk/jobs/{id}'], ['POST', '/api/bulk/jobs/{id}/continue']],
  );

  await path(
    'merge three contacts',
    async () => {
      await goContacts();
      await page.getByRole('searchbox', { name: 'Search contacts' }).fill('triplet');
      await rowCount(3);
      await page.getByRole('checkbox', { name: 'Select all on this page' }).check();
      await page.getByRole('button', { name: 'Merge…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Merge 3 contacts' });
      const radios = dialog.getByRole('radio');
      await radios.nth(1).check();
      const primary = await radios.nth(1).getAttribute('value');
      await dialog.getByRole('button', { name: 'Preview merge' }).click();
      await dialog.getByRole('heading', { name: 'Result of the merge' }).waitFor();
      await accessible('merge-dialog');
      await dialog.getByRole('button', { name: 'Merge 3 contacts' }).click();
      await page.waitForURL(`**/#/contact/${primary}`);
      await page.getByRole('region', { name: 'History' }).getByText('merge').waitFor();
      assert.equal((await api('GET', '/api/search?q=triplet')).body.items.length, 1);
    },
    [['POST', '/api/merge'], ['GET', '/api/duplicates/{id}']],
  );

  await path(
    'import a CSV with a failed row, download its errors',
    async () => {
      await page.getByRole('link', { name: 'Import' }).click();
      const csv = 'First name,Last name,Email,Phone\nIris,Imported,iris@example.com,\nIvo,Imported,ivo@example.com,\nNo,Keys,,\n';
      await page.getByLabel(/^CSV file/).setInputFiles({ name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
      await page.getByRole('heading', { name: '2. Map the columns' }).waitFor();
      await page.getByText('Encoding').waitFor();
      await page.getByLabel('Tags for every imported contact').fill('fair');
      await accessible('import-mapping');
      await page.getByRole('button', { name: 'Import', exact: true }).click();
      await page.getByRole('heading', { name: '3. Result' }).waitFor({ timeout: 60_000 });
      const counts = page.locator('dl.counts');
      assert.equal(await counts.locator('dt:has-text("Created") + dd').textContent(), '2');
      assert.equal(await counts.locator('dt:has-text("Failed") + dd').textContent(), '1');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download errors.csv' }).click()]);
      const text = await (await download.createReadStream()).toArray().then((c) => Buffer.concat(c).toString());
      assert.match(text, /error/);
      assert.match(text, /Keys/);
      await accessible('import-result');
    },
    [['POST', '/api/imports/preview'], ['POST', '/api/imports'], ['PUT', '/api/imports/{job}/chunks/{seq}'], ['POST', '/api/imports/{job}/finish'], ['GET', '/api/imports/{job}/errors.csv']],
  );

  assert.deepEqual(pageErrors, [], 'no uncaught error in the page');
  assert.deepEqual(foreign, [], 'nothing fetched from another host');
  console.log(`console: ${passed.length} paths passed`);
} catch (e) {
  console.error(`FAILED at "${step}": ${e.stack || e}`);
  if (shots) await page.screenshot({ path: join(shots, 'failure.png') }).catch(() => {});
  await browser.close();
  process.exit(1);
}
await browser.close();
