// The node's web overview: nodes, plugins, streams, replication progress,
// DVR timelines and a player. Plain browser JavaScript, no build step;
// hls.js comes from /assets/hls.min.js, served by the node itself.
// Everything it shows comes from the node's JSON API (/api/v1/node,
// /api/v1/streams, /api/v1/cluster, /api/v1/plugins) and each stream's
// recording_status.json.
'use strict';

const state = { node: null, streams: [], cluster: null, plugins: [] };

// window.edge lets a person (or a test) look at the player from the console.
window.edge = { hls: null, video: null, playing: null, state };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

async function getJSON(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

function ago(ms) {
  if (ms === null || ms === undefined) return 'never';
  if (ms < 1000) return 'now';
  if (ms < 60000) return `${Math.round(ms / 1000)} s ago`;
  return `${Math.round(ms / 60000)} min ago`;
}

function bytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function clock(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleTimeString([], { hour12: false });
}

function renderNodes() {
  const tb = document.querySelector('#nodes tbody');
  const rows = [];
  if (state.cluster) {
    for (const p of state.cluster.peers) {
      rows.push(el('tr', { 'data-node': p.name },
        el('td', {}, p.public_url ? el('a', { href: p.public_url + '/' }, p.name) : p.name, p.self ? ' (this node)' : ''),
        el('td', { class: p.alive ? 'ok' : 'bad' }, p.alive ? 'alive' : 'dead'),
        el('td', {}, p.self ? 'now' : ago(p.last_seen_ago_ms)),
        el('td', {}, p.load.streams),
        el('td', {}, p.load.viewers),
        el('td', {}, bytes(p.load.bytes_out)),
        el('td', { class: 'bad' }, p.error || '')));
    }
  } else if (state.node) {
    const n = state.node;
    rows.push(el('tr', { 'data-node': n.node },
      el('td', {}, n.node, ' (this node)'),
      el('td', { class: 'ok' }, 'alive'),
      el('td', {}, 'now'),
      el('td', {}, state.streams.length),
      el('td', {}, n.connections),
      el('td', {}, ''),
      el('td', { class: 'muted' }, 'no [cluster] peers')));
  }
  tb.replaceChildren(...rows);
}

function renderPlugins() {
  const tb = document.querySelector('#plugins tbody');
  tb.replaceChildren(...state.plugins.map((p) => el('tr', { 'data-plugin': p.name },
    el('td', {}, p.name), el('td', {}, p.kind), el('td', {}, p.command),
    el('td', { class: p.pid ? '' : 'bad' }, p.pid || 'restarting'),
    el('td', { class: p.restarts ? 'bad' : '' }, p.restarts))));
}

function runsAt(name) {
  if (state.cluster) {
    const c = state.cluster.streams.find((s) => s.name === name);
    if (c) return c.captured_at.length ? c.captured_at.join(', ') : `nowhere (placed on ${c.owner || 'no peer'})`;
  }
  return state.node ? state.node.node : '';
}

function renderStreams() {
  const tb = document.querySelector('#streams tbody');
  tb.replaceChildren(...state.streams.map((s) => el('tr', { 'data-stream': s.name },
    el('td', {}, s.name),
    el('td', {}, runsAt(s.name)),
    el('td', {}, ...(s.inputs.length ? s.inputs.map((i) => el('span', {
      class: 'input' + (i.url === s.active_input ? ' active' : ''),
      title: i.error || i.state,
    }, i.url === s.active_input ? '▶ ' : '  ', i.url, ' ', el('span', { class: i.state === 'failed' ? 'bad' : 'muted' }, i.state))) : [el('span', { class: 'muted' }, 'from sources')])),
    el('td', {}, s.bitrate ? `${Math.round(s.bitrate / 1000)} kbit/s` : '–'),
    el('td', { 'data-viewers': s.viewers }, s.viewers),
    el('td', { class: s.live ? 'ok' : 'muted' }, s.live ? 'live' : 'idle'),
    el('td', {}, el('button', { 'data-play-live': s.name, onclick: () => playLive(s.name) }, 'live')))));
}

function seconds(n) {
  n = Math.round(n);
  if (n < 60) return `${n} s`;
  if (n < 3600) return `${Math.floor(n / 60)} min ${n % 60} s`;
  return `${Math.floor(n / 3600)} h ${Math.floor((n % 3600) / 60)} min`;
}

// renderReplication lists the streams that replicate their source's archive
// (dvr replicate) with the job's progress, as /api/v1/streams reports it.
// Each row keeps the raw numbers in data- attributes.
function renderReplication() {
  const tb = document.querySelector('#replication tbody');
  const rows = state.streams.filter((s) => s.replication).map((s) => {
    const r = s.replication;
    const status = r.segments_missing > 0 ? ['copying', ''] : r.caught_up ? ['caught up', 'ok'] : ['comparing', 'muted'];
    return el('tr', {
      'data-replication': s.name, 'data-source': r.source,
      'data-segments-copied': r.segments_copied, 'data-bytes-copied': r.bytes_copied,
      'data-segments-missing': r.segments_missing, 'data-seconds-missing': r.seconds_missing,
      'data-rate': r.rate, 'data-eta-seconds': r.eta_seconds, 'data-caught-up': r.caught_up,
      'data-last-error-at': r.last_error_at || '',
    },
    el('td', {}, s.name),
    el('td', {}, r.source),
    el('td', {}, `${r.segments_copied} segments, ${bytes(r.bytes_copied)}`),
    el('td', {}, r.segments_missing ? `${r.segments_missing} segments, ${seconds(r.seconds_missing)}` : 'none'),
    el('td', {}, r.rate ? `${bytes(r.rate)}/s` : '–'),
    el('td', {}, r.eta_seconds ? seconds(r.eta_seconds) : '–'),
    el('td', { class: status[1] }, status[0], r.conflicts ? el('span', { class: 'bad' }, `, ${r.conflicts} conflicts`) : null),
    el('td', { class: 'bad' }, r.last_error ? `${r.last_error} (${ago(Date.now() - r.last_error_at * 1000)})` : ''));
  });
  if (!rows.length) rows.push(el('tr', {}, el('td', { class: 'muted', colspan: 8 }, 'no stream replicates here (dvr replicate)')));
  tb.replaceChildren(...rows);
}

// renderTimeline draws one stream's recorded ranges on an axis that ends now:
// blue ranges, red gaps between them. The axis bounds are data-start and
// data-end (Unix seconds) so a click maps to a moment.
function renderTimeline(name, ranges, now) {
  const box = document.getElementById('timelines');
  let row = box.querySelector(`[data-timeline-row="${CSS.escape(name)}"]`);
  if (!row) {
    row = el('div', { class: 'timeline-row', 'data-timeline-row': name },
      el('div', { class: 'timeline-head' }, el('strong', {}, name), el('span', { class: 'span' })),
      el('div', { class: 'timeline', 'data-timeline': name, onclick: (ev) => clickTimeline(name, ev) }));
    box.append(row);
  }
  const tl = row.querySelector('.timeline');
  const start = ranges.length ? Math.min(ranges[0].from, now - 60) : now - 60;
  const end = now;
  tl.dataset.start = start;
  tl.dataset.end = end;
  const pct = (t) => `${(100 * (t - start) / (end - start)).toFixed(3)}%`;
  const parts = [];
  let prev = null;
  for (const r of ranges) {
    if (prev !== null && r.from > prev) {
      parts.push(el('div', { class: 'gap', 'data-from': prev, 'data-to': r.from, style: `left:${pct(prev)};width:${pct(start + r.from - prev)}`, title: `gap ${clock(prev)} – ${clock(r.from)}` }));
    }
    const to = r.from + r.duration;
    parts.push(el('div', { class: 'range', 'data-from': r.from, 'data-to': to, style: `left:${pct(r.from)};width:${pct(start + r.duration)}`, title: `${clock(r.from)} – ${clock(to)}` }));
    prev = to;
  }
  const p = window.edge.playing;
  if (p && p.stream === name && window.edge.hls && window.edge.hls.playingDate) {
    const t = window.edge.hls.playingDate.getTime() / 1000;
    if (t >= start && t <= end) parts.push(el('div', { class: 'cursor', style: `left:${pct(t)}` }));
  }
  tl.replaceChildren(...parts);
  row.querySelector('.span').textContent = `${clock(start)} – ${clock(end)}, ${ranges.length} range(s)`;
}

function clickTimeline(name, ev) {
  const tl = ev.currentTarget;
  const box = tl.getBoundingClientRect();
  const start = Number(tl.dataset.start), end = Number(tl.dataset.end);
  const t = Math.floor(start + (end - start) * (ev.clientX - box.left) / box.width);
  playArchive(name, Math.max(1, Math.min(t, Math.floor(Date.now() / 1000) - 1)));
}

function play(url, info) {
  const video = document.getElementById('player');
  if (window.edge.hls) window.edge.hls.destroy();
  window.edge.video = video;
  window.edge.playing = info;
  document.getElementById('player-title').textContent =
    info.mode === 'live' ? `${info.stream}: live` : `${info.stream}: archive from ${clock(info.from)}`;
  if (!window.Hls || !Hls.isSupported()) {
    video.src = url; // Safari plays HLS itself
  } else {
    const hls = new Hls({ startPosition: -1 });
    window.edge.hls = hls;
    hls.on(Hls.Events.ERROR, (_, d) => {
      if (d.fatal) document.getElementById('player-title').textContent = `${info.stream}: ${d.details}`;
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  }
  video.play().catch(() => {});
}

function playLive(name) {
  play(`/${encodeURIComponent(name)}/index.m3u8`, { stream: name, mode: 'live' });
}

// playArchive plays the stream from moment t (Unix seconds) on: an EVENT
// playlist that starts at t and runs into live.
function playArchive(name, t) {
  play(`/${encodeURIComponent(name)}/archive-${t}-now.m3u8`, { stream: name, mode: 'archive', from: t });
}

function tickClock() {
  const h = window.edge.hls;
  const c = document.getElementById('player-clock');
  c.textContent = h && h.playingDate ? `playing ${h.playingDate.toLocaleTimeString([], { hour12: false })}` : '';
}

async function refresh() {
  const status = document.getElementById('updated');
  try {
    state.node = await getJSON('/api/v1/node');
    document.getElementById('node-name').textContent = state.node.node;
    const s = await getJSON('/api/v1/streams');
    state.streams = s.streams;
    state.cluster = state.node.cluster ? await getJSON('/api/v1/cluster') : null;
    state.plugins = (await getJSON('/api/v1/plugins')).plugins;
    renderNodes();
    renderPlugins();
    renderStreams();
    renderReplication();
    status.textContent = `updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
    status.className = 'muted';
  } catch (e) {
    status.textContent = `update failed: ${e.message}`;
    status.className = 'bad';
  }
}

async function refreshTimelines() {
  const now = Math.floor(Date.now() / 1000);
  const names = state.streams.map((s) => s.name);
  for (const row of document.querySelectorAll('[data-timeline-row]')) {
    if (!names.includes(row.dataset.timelineRow)) row.remove();
  }
  await Promise.all(names.map(async (name) => {
    try {
      const rs = await getJSON(`/${encodeURIComponent(name)}/recording_status.json?from=${now - 86400}`);
      renderTimeline(name, (rs[0] && rs[0].ranges) || [], now);
    } catch (e) {
      renderTimeline(name, [], now);
    }
  }));
  const box = document.getElementById('timelines');
  for (const name of names) { // in the order of the stream table
    const row = box.querySelector(`[data-timeline-row="${CSS.escape(name)}"]`);
    if (row) box.append(row);
  }
}

async function loop() {
  await refresh();
  await refreshTimelines();
  setTimeout(loop, 2000);
}

setInterval(tickClock, 500);
loop();
