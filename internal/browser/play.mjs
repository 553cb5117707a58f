// play.mjs plays one HLS URL with hls.js in headless Chromium and prints
// what happened as one line of JSON. It is the browser client of edge's
// tests (see browser.go); it serves its own page from another origin than
// the stream, so every request to edge is a CORS request, as in a real
// web player.
//
//	node play.mjs --url URL [--seek SECONDS] [--advance SECONDS]
//	              [--timeout SECONDS] [--screenshot FILE.png]
//
// It waits until the video element's currentTime has advanced by
// --advance seconds of playback (after the seek, when one is asked), or
// until --timeout. It never decides pass or fail itself beyond that: the
// Go test reads the JSON (times, picture size, hls.js errors) and asserts.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

function args() {
  const a = { url: '', seek: -1, advance: 4, timeout: 60, screenshot: '', debug: '' };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) {
    const k = v[i].replace(/^--/, '');
    if (!(k in a)) throw new Error(`unknown flag ${v[i]}`);
    a[k] = typeof a[k] === 'number' ? Number(v[i + 1]) : v[i + 1];
  }
  if (!a.url) throw new Error('--url is required');
  return a;
}

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>edge test player</title></head>
<body><video id="v" muted playsinline width="480"></video>
<script src="/hls.min.js"></script>
<script>
window.__state = { errors: [], fatal: null, levels: 0, live: null, seeked: false };
const video = document.getElementById('v');
function play(src, seek) {
  const hls = new Hls({ enableWorker: true, debug: !!window.__debug });
  window.__hls = hls;
  hls.on(Hls.Events.ERROR, (_, d) => {
    const e = { type: d.type, details: d.details, fatal: !!d.fatal,
      reason: String((d.error && d.error.message) || d.reason || ''),
      url: (d.frag && d.frag.url) || (d.context && d.context.url) || '' };
    window.__state.errors.push(e);
    if (d.fatal && !window.__state.fatal) window.__state.fatal = e;
  });
  hls.on(Hls.Events.LEVEL_LOADED, (_, d) => {
    window.__state.levels++;
    window.__state.live = d.details.live;
    window.__state.duration = d.details.totalduration;
    if (seek >= 0 && !window.__state.seeked) {
      window.__state.seeked = true;
      video.currentTime = seek;
    }
  });
  hls.loadSource(src);
  hls.attachMedia(video);
  video.play().catch(() => {});
}
</script></body></html>`;

function serve() {
  const hlsjs = fs.readFileSync(path.join(here, 'node_modules/hls.js/dist/hls.min.js'));
  const srv = http.createServer((req, res) => {
    if (req.url === '/hls.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(hlsjs);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

// withTimeout rejects when p takes longer than ms: a page whose main thread
// is stuck never answers evaluate.
function withTimeout(p, ms, what) {
  return Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms (page frozen?)`)), ms))]);
}

async function main() {
  const a = args();
  const out = { url: a.url, ok: false, error: '', start: null, end: null, seek: a.seek, width: 0, height: 0,
    fatal: null, errors: [], console: [], live: null, duration: null, levels: 0 };
  const srv = await serve();
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      // playwright-core makes a new empty profile; these keep Chromium off
      // the network this machine does not reach.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--autoplay-policy=no-user-gesture-required'],
    });
    const pg = await browser.newPage();
    pg.on('console', (m) => { if (a.debug) process.stderr.write(m.text() + '\n'); if (m.type() === 'error') out.console.push(m.text()); });
    if (a.debug) await pg.addInitScript(() => { window.__debug = true; });
    pg.on('pageerror', (e) => out.console.push(String(e)));
    await pg.goto(`http://127.0.0.1:${srv.address().port}/`);
    await pg.evaluate(([src, seek]) => play(src, seek), [a.url, a.seek]);
    const deadline = Date.now() + a.timeout * 1000;
    const sample = () => withTimeout(pg.evaluate(() => {
      const v = document.getElementById('v');
      return { t: v.currentTime, w: v.videoWidth, h: v.videoHeight, paused: v.paused, rs: v.readyState,
        st: window.__state };
    }), 10000, 'evaluate');
    for (;;) {
      const s = await sample();
      out.fatal = s.st.fatal;
      out.errors = s.st.errors;
      out.live = s.st.live;
      out.duration = s.st.duration ?? null;
      out.levels = s.st.levels;
      out.width = s.w;
      out.height = s.h;
      if (s.st.fatal) break;
      const seekDone = a.seek < 0 || (s.st.seeked && s.t >= a.seek - 0.5);
      if (out.start === null && seekDone && s.rs >= 2 && !s.paused && s.t > 0) out.start = s.t;
      if (out.start !== null) {
        out.end = s.t;
        if (s.t - out.start >= a.advance) { out.ok = true; break; }
      }
      if (Date.now() > deadline) { out.error = `currentTime did not advance ${a.advance} s in ${a.timeout} s`; break; }
      await new Promise((r) => setTimeout(r, 250));
    }
    if (a.screenshot) await withTimeout(pg.screenshot({ path: a.screenshot }), 10000, 'screenshot');
  } catch (e) {
    out.error = String(e && e.message ? e.message : e);
  } finally {
    if (browser) await browser.close().catch(() => {});
    srv.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { process.stdout.write(JSON.stringify({ ok: false, error: String(e) }) + '\n'); });
