// overview.mjs opens a node's web overview (GET /) in headless Chromium,
// uses it as a person would, and prints what happened as one line of JSON.
// It is driven by cmd/edge's TestOverviewInBrowser, which decides pass or
// fail.
//
//	node overview.mjs --url http://127.0.0.1:PORT/ --stream NAME --click-at UNIX
//	                  [--advance SECONDS] [--timeout SECONDS] [--screenshot FILE.png]
//	node overview.mjs --url URL --nodes N [--timeout SECONDS] [--screenshot FILE.png]
//	node overview.mjs --url URL --replication NAME [--timeout SECONDS] [--screenshot FILE.png]
//
// With --nodes, it only waits until the node table has N rows and reports
// the node, stream and plugin tables as the page shows them. With
// --replication, it waits until the replication table has a row for stream
// NAME and reports that table: each row's cells and data- attributes.
//
// Steps: load the page; wait for the stream table and the DVR timeline of
// --stream; press its "live" button and wait until the player's currentTime
// has advanced by --advance seconds; click the timeline at the pixel of
// moment --click-at (from the timeline's own axis bounds) and wait again
// for currentTime to advance; read the player's program date (hls.js
// playingDate) to say where in the archive it plays. Console errors, page
// errors and failed requests are reported.
import { chromium } from 'playwright-core';

function args() {
  const a = { url: '', stream: '', 'click-at': 0, advance: 3, timeout: 40, screenshot: '', nodes: 0, replication: '' };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) {
    const k = v[i].replace(/^--/, '');
    if (!(k in a)) throw new Error(`unknown flag ${v[i]}`);
    a[k] = typeof a[k] === 'number' ? Number(v[i + 1]) : v[i + 1];
  }
  if (!a.url || (!a.nodes && !a.replication && (!a.stream || !a['click-at']))) throw new Error('--url, and --nodes, --replication or --stream and --click-at are required');
  return a;
}

function withTimeout(p, ms, what) {
  return Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms))]);
}

// advance waits until the player's currentTime has moved by secs while
// playing, and returns {start, end, playingDate} (playingDate in Unix
// seconds at the first sample that moved, null when hls.js has none).
async function advance(pg, secs, deadline, what) {
  let start = null;
  let first = null;
  for (;;) {
    const s = await withTimeout(pg.evaluate(() => {
      const v = document.getElementById('player');
      const h = window.edge.hls;
      return { t: v.currentTime, paused: v.paused, rs: v.readyState,
        date: h && h.playingDate ? h.playingDate.getTime() / 1000 : null,
        title: document.getElementById('player-title').textContent };
    }), 10000, 'evaluate');
    if (start === null && s.rs >= 2 && !s.paused && s.t > 0) { start = s.t; first = s.date; }
    if (start !== null && s.t - start >= secs) return { start, end: s.t, playingDate: first, title: s.title };
    if (Date.now() > deadline) throw new Error(`${what}: currentTime did not advance ${secs} s (player: ${s.title}, t=${s.t}, readyState=${s.rs})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}


// useOverview plays the stream live, then clicks its timeline (see the top).
async function useOverview(pg, a, out, deadline) {
  const row = `#streams tr[data-stream="${a.stream}"]`;
  await pg.waitForSelector(row, { timeout: a.timeout * 1000 });
  await pg.waitForSelector(`[data-timeline="${a.stream}"] .range`, { timeout: a.timeout * 1000 });
  out.streams = await pg.$$eval('#streams tr[data-stream]', (rs) => rs.map((r) => r.dataset.stream));

  await pg.click(`button[data-play-live="${a.stream}"]`);
  out.live = await advance(pg, a.advance, deadline, 'live');

  // The timeline as drawn now: its ranges, gaps and axis.
  const tl = `[data-timeline="${a.stream}"]`;
  out.ranges = await pg.$$eval(`${tl} .range`, (rs) => rs.map((r) => [Number(r.dataset.from), Number(r.dataset.to)]));
  out.gaps = await pg.$$eval(`${tl} .gap`, (rs) => rs.map((r) => [Number(r.dataset.from), Number(r.dataset.to)]));
  await pg.locator(tl).scrollIntoViewIfNeeded();
  const box = await pg.locator(tl).boundingBox(); // in the viewport, where the mouse clicks
  const axis = await pg.$eval(tl, (e) => [Number(e.dataset.start), Number(e.dataset.end)]);
  out.axis = axis;
  const x = box.x + box.width * (a['click-at'] - axis[0]) / (axis[1] - axis[0]);
  out.clicked = { x, y: box.y + box.height / 2 };
  await pg.mouse.click(x, box.y + box.height / 2);
  out.archive = await advance(pg, a.advance, deadline, 'archive');
  out.archive.url = await pg.evaluate(() => window.edge.hls && window.edge.hls.url);
  out.viewers = await pg.$eval(`${row} [data-viewers]`, (e) => Number(e.dataset.viewers));
  out.ok = true;
}

async function main() {
  const a = args();
  const out = { ok: false, error: '', console: [], failed: [], streams: [], ranges: [], gaps: [],
    axis: null, live: null, archive: null, clicked: null, viewers: null };
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--autoplay-policy=no-user-gesture-required'],
    });
    const pg = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    pg.on('console', (m) => { if (m.type() === 'error') out.console.push(m.text()); });
    pg.on('pageerror', (e) => out.console.push(String(e)));
    pg.on('requestfailed', (r) => out.failed.push(`${r.url()}: ${r.failure() && r.failure().errorText}`));
    pg.on('response', (r) => { if (r.status() >= 400) out.failed.push(`${r.url()}: ${r.status()}`); });
    const deadline = Date.now() + a.timeout * 1000;

    await pg.goto(a.url);
    if (a.nodes) {
      await pg.waitForFunction((n) => document.querySelectorAll('#nodes tr[data-node]').length >= n, a.nodes, { timeout: a.timeout * 1000 });
      await pg.waitForSelector('#streams tr[data-stream]', { timeout: a.timeout * 1000 });
      out.nodeRows = await pg.$$eval('#nodes tr[data-node]', (rs) => rs.map((r) => ({
        name: r.dataset.node, cells: [...r.querySelectorAll('td')].map((c) => c.textContent) })));
      out.streamRows = await pg.$$eval('#streams tr[data-stream]', (rs) => rs.map((r) => ({
        name: r.dataset.stream, cells: [...r.querySelectorAll('td')].map((c) => c.textContent) })));
      out.pluginRows = await pg.$$eval('#plugins tr[data-plugin]', (rs) => rs.map((r) => ({
        name: r.dataset.plugin, cells: [...r.querySelectorAll('td')].map((c) => c.textContent) })));
      out.ok = true;
    } else if (a.replication) {
      await pg.waitForSelector(`#replication tr[data-replication="${a.replication}"]`, { timeout: a.timeout * 1000 });
      await pg.locator('#replication').scrollIntoViewIfNeeded();
      out.replicationRows = await pg.$$eval('#replication tr[data-replication]', (rs) => rs.map((r) => ({
        name: r.dataset.replication, cells: [...r.querySelectorAll('td')].map((c) => c.textContent), data: { ...r.dataset } })));
      out.ok = true;
    } else {
      await useOverview(pg, a, out, deadline);
    }
  } catch (e) {
    out.error = String(e && e.message ? e.message : e);
  } finally {
    if (browser) {
      if (a.screenshot) {
        try {
          const pages = browser.contexts().flatMap((c) => c.pages());
          if (pages.length) await withTimeout(pages[0].screenshot({ path: a.screenshot, fullPage: true }), 10000, 'screenshot');
        } catch (e) { out.error = out.error || `screenshot: ${e.message}`; }
      }
      await browser.close().catch(() => {});
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { process.stdout.write(JSON.stringify({ ok: false, error: String(e) }) + '\n'); });
