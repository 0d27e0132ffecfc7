/* borderfusion COP: SVG map + alert queue fed by /api/stream (Server-Sent Events).
 * No framework, no external assets. Geometry is drawn in Web Mercator metres relative to a
 * fixed origin (group #world, transformed on pan/zoom); markers and labels are redrawn in
 * screen space so they keep their size. Optional raster tiles: ?tiles=URL-with-{z}{x}{y}.
 */
'use strict';
const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'];
const SEV_COLOR = {critical: '#ff3b30', high: '#ff9500', medium: '#ffcc00', low: '#5ac8fa', info: '#8e8e93'};
const CLASS_COLOR = {person: '#ffd166', vehicle: '#ff8c42', boat: '#4cc9f0', animal: '#8ac926', unknown: '#9aa5b1'};
const HEALTH_COLOR = {ok: '#34c759', stale: '#ff9500', unknown: '#6b7885'};
const R = 6378137, SVGNS = 'http://www.w3.org/2000/svg';

const S = {
  alerts: new Map(), tracks: new Map(), sensors: [], zones: null, me: null,
  selected: null, detail: null, primed: false, sound: false, audio: null, tLatest: 0,
};
const V = {ox: 0, oy: 0, cx: 0, cy: 0, k: 0.05, w: 800, h: 600};  // origin, centre (m), px per m
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));

// ------------------------------------------------------------------ projection

function merc(lon, lat) {
  const x = R * lon * Math.PI / 180;
  const y = R * Math.log(Math.tan(Math.PI / 4 + Math.max(-85, Math.min(85, lat)) * Math.PI / 360));
  return [x - V.ox, V.oy - y];  // local metres, y down
}
function unmerc(x, y) {
  const lon = (x + V.ox) / R * 180 / Math.PI;
  const lat = (2 * Math.atan(Math.exp((V.oy - y) / R)) - Math.PI / 2) * 180 / Math.PI;
  return [lon, lat];
}
function toScreen(p) { return [(p[0] - V.cx) * V.k + V.w / 2, (p[1] - V.cy) * V.k + V.h / 2]; }
function fromScreen(sx, sy) { return [(sx - V.w / 2) / V.k + V.cx, (sy - V.h / 2) / V.k + V.cy]; }
function scr(lon, lat) { return toScreen(merc(lon, lat)); }
function mercScale(lat) { return 1 / Math.cos(lat * Math.PI / 180); }  // ground m -> mercator m
function dest(lat, lon, bearingDeg, dist) {  // spherical destination point
  const d = dist / R, b = bearingDeg * Math.PI / 180, p1 = lat * Math.PI / 180, l1 = lon * Math.PI / 180;
  const p2 = Math.asin(Math.sin(p1) * Math.cos(d) + Math.cos(p1) * Math.sin(d) * Math.cos(b));
  const l2 = l1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(p1), Math.cos(d) - Math.sin(p1) * Math.sin(p2));
  return [l2 * 180 / Math.PI, p2 * 180 / Math.PI];
}
function el(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

// ------------------------------------------------------------------ static layers

function ringsPath(rings) {
  return rings.map((ring) => 'M' + ring.map(([lon, lat]) => merc(lon, lat).map((v) => v.toFixed(1)).join(',')).join('L') + 'Z').join('');
}
function linePath(coords) {
  return 'M' + coords.map(([lon, lat]) => merc(lon, lat).map((v) => v.toFixed(1)).join(',')).join('L');
}
const ZONE_ORDER = {territory: 0, water: 1, strip: 2, sector: 3, restricted: 4, checkpoint: 5};

function drawZones() {
  const gz = $('l-zones'), gb = $('l-borders');
  gz.textContent = ''; gb.textContent = '';
  const feats = [...(S.zones?.features || [])].sort((a, b) =>
    (ZONE_ORDER[a.properties.kind] ?? 9) - (ZONE_ORDER[b.properties.kind] ?? 9));
  for (const f of feats) {
    const kind = f.properties.kind, g = f.geometry;
    if (!g) continue;
    if (kind === 'border') {
      const lines = g.type === 'LineString' ? [g.coordinates] : g.type === 'MultiLineString' ? g.coordinates : [];
      const cls = f.properties.border_type === 'blue' ? 'border-blue' : 'border-green';
      for (const ln of lines) {
        el('path', {d: linePath(ln), class: 'border-casing'}, gb);
        el('path', {d: linePath(ln), class: cls, 'data-zone': f.properties.id}, gb);
      }
      continue;
    }
    const polys = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
    const d = polys.map(ringsPath).join('');
    const known = kind in ZONE_ORDER ? kind : 'other';
    el('path', {d, class: 'zone-' + known, 'fill-rule': 'evenodd', 'data-zone': f.properties.id}, gz);
  }
}

function drawCoverage() {
  const g = $('l-coverage');
  g.textContent = '';
  for (const s of S.sensors) {
    const p = s.params || {}, c = merc(s.lon, s.lat), k = mercScale(s.lat);
    if (s.type === 'radar' && p.max_range_m) {
      el('circle', {cx: c[0], cy: c[1], r: p.max_range_m * k, class: 'cov-radar'}, g);
      el('circle', {cx: c[0], cy: c[1], r: p.max_range_m * k / 2, class: 'cov-radar', 'fill-opacity': 0}, g);
    } else if (s.type === 'thermal' && p.max_range_m) {
      const h = p.heading_deg || 0, fov = p.fov_deg || 30, pts = [[s.lon, s.lat]];
      for (let i = 0; i <= 16; i++) pts.push(dest(s.lat, s.lon, h - fov / 2 + fov * i / 16, p.max_range_m));
      el('path', {d: ringsPath([pts]), class: 'cov-thermal'}, g);
    } else if (s.type === 'seismic' && p.radius_m) {
      el('circle', {cx: c[0], cy: c[1], r: p.radius_m * k, class: 'cov-seismic'}, g);
    }
  }
}

function fitBounds(pad = 40) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  const add = (lon, lat) => { const [x, y] = merc(lon, lat); x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); };
  for (const f of S.zones?.features || []) {
    if (f.properties.kind === 'territory') continue;  // the territory may reach far inland
    walk(f.geometry?.coordinates, add);
  }
  for (const s of S.sensors) add(s.lon, s.lat);
  if (!isFinite(x0)) return;
  V.cx = (x0 + x1) / 2; V.cy = (y0 + y1) / 2;
  V.k = Math.min((V.w - 2 * pad) / Math.max(x1 - x0, 1), (V.h - 2 * pad) / Math.max(y1 - y0, 1));
}
function walk(c, fn) {
  if (!Array.isArray(c)) return;
  if (typeof c[0] === 'number') { fn(c[0], c[1]); return; }
  for (const x of c) walk(x, fn);
}

// ------------------------------------------------------------------ dynamic layers

function applyView() {
  $('world').setAttribute('transform', `translate(${V.w / 2 - V.cx * V.k},${V.h / 2 - V.cy * V.k}) scale(${V.k})`);
  drawTiles();
  drawScreen();
  drawScale();
}
let pending = false;
function redraw() { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; drawScreen(); }); } }

function drawScreen() {
  drawLabels(); drawSensors(); drawTracks(); drawAlertMarks(); drawLinks();
}

function drawLabels() {
  const g = $('l-labels');
  g.textContent = '';
  if (!$('ly-labels').checked) return;
  for (const f of S.zones?.features || []) {
    const kind = f.properties.kind;
    if (!['restricted', 'checkpoint', 'sector', 'water'].includes(kind)) continue;
    let sx = 0, sy = 0, n = 0, x0 = Infinity, x1 = -Infinity;
    walk(f.geometry?.coordinates, (lon, lat) => { const p = scr(lon, lat); sx += p[0]; sy += p[1]; n++; x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]); });
    if (!n || x1 - x0 < 30) continue;
    const text = (kind === 'sector' ? f.properties.id : f.properties.name || f.properties.id).toUpperCase();
    const t = el('text', {x: sx / n, y: sy / n, class: 'lbl zone-' + kind, 'text-anchor': 'middle'}, g);
    t.textContent = text;
  }
}

function sensorHealth(id) { return S.sensors.find((s) => s.id === id)?.health || 'unknown'; }

function drawSensors() {
  const g = $('l-sensors');
  g.textContent = '';
  if (!$('ly-sensors').checked) return;
  for (const s of S.sensors) {
    const [x, y] = scr(s.lon, s.lat), col = HEALTH_COLOR[s.health] || HEALTH_COLOR.unknown;
    const grp = el('g', {transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`, 'data-sensor': s.id}, g);
    const t = el('title', {}, grp);
    t.textContent = `${s.id} (${s.type}) — ${s.health}` + (s.last_seen ? `, last seen ${fmtTime(s.last_seen)}` : '');
    if (s.type === 'radar') {
      el('rect', {x: -5, y: -5, width: 10, height: 10, fill: '#0a1016', stroke: col, 'stroke-width': 2}, grp);
      el('circle', {r: 2, fill: col}, grp);
    } else if (s.type === 'thermal') {
      el('path', {d: 'M0,-6L5.5,4.5L-5.5,4.5Z', fill: '#0a1016', stroke: col, 'stroke-width': 2}, grp);
    } else if (s.type === 'seismic') {
      el('circle', {r: 3, fill: col, stroke: '#0a1016', 'stroke-width': 1}, grp);
    } else {
      el('circle', {r: 5, fill: '#0a1016', stroke: col, 'stroke-width': 2}, grp);
      el('path', {d: 'M0,-3V3M-2,-1L0,-3L2,-1', stroke: col, 'stroke-width': 1.3, fill: 'none'}, grp);
    }
    if (V.k > 0.12 && s.type !== 'seismic') {
      const l = el('text', {x: 8, y: 3, class: 'sensor-lbl'}, grp);
      l.textContent = s.id;
    }
  }
}

// an own patrol (blue-force tracking: the track carries its unit id in `friendly`)
const FRIENDLY_COLOR = '#3a5bff';
function trackColor(t) { return t.friendly ? FRIENDLY_COLOR : CLASS_COLOR[t.classification] || CLASS_COLOR.unknown; }

function drawTrails() {
  const g = $('l-trails');
  g.textContent = '';
  if (!$('ly-trails').checked) return;
  const hl = new Set(S.detail?.track_ids || []);
  for (const t of S.tracks.values()) {
    if (!t.trail || t.trail.length < 2) continue;
    const pts = t.trail.map(([, lat, lon]) => merc(lon, lat).map((v) => v.toFixed(1)).join(',')).join(' ');
    el('polyline', {points: pts, class: 'trail' + (hl.has(t.track_id) ? ' hl' : ''), stroke: trackColor(t)}, g);
  }
}

function drawTracks() {
  const g = $('l-tracks');
  g.textContent = '';
  const hl = new Set(S.detail?.track_ids || []);
  for (const t of S.tracks.values()) {
    const [x, y] = scr(t.lon, t.lat);
    if (x < -50 || y < -50 || x > V.w + 50 || y > V.h + 50) continue;
    const col = trackColor(t), tentative = t.status === 'tentative';
    const grp = el('g', {transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`, 'data-track': t.track_id,
      opacity: tentative ? 0.55 : 1}, g);
    const sp = Math.hypot(t.vel_e || 0, t.vel_n || 0);
    if (sp > 0.3) {  // 60-second leader
      const lead = Math.min(60 * sp * V.k * mercScale(t.lat), 80);
      el('line', {x1: 0, y1: 0, x2: (t.vel_e / sp * lead).toFixed(1), y2: (-t.vel_n / sp * lead).toFixed(1), stroke: col, 'stroke-width': 1.5}, grp);
    }
    const ais = t.mmsi != null, dark = !ais && (t.classification === 'boat' || onWaterTrack(t));
    el('circle', {r: hl.has(t.track_id) ? 7 : 5, fill: col, stroke: ais ? '#e8eef3' : dark ? '#ff453a' : '#05080b',
      'stroke-width': ais || dark ? 2 : 1.2, 'stroke-dasharray': dark ? '2.5 1.5' : ''}, grp);
    const title = el('title', {}, grp);
    title.textContent = `${t.track_id}${t.friendly ? ' own unit ' + t.friendly : ''} ${t.classification || 'unclassified'} ${ais ? 'MMSI ' + t.mmsi : '(no AIS)'} ${(sp * 3.6).toFixed(0)} km/h — ${(t.sources || []).join(', ')}`;
    if (ais && V.k > 0.05) {
      const l = el('text', {x: 9, y: -6, class: 'trk-lbl'}, grp);
      l.textContent = t.name || String(t.mmsi);
    }
  }
  $('ntracks').textContent = S.tracks.size;
}
function onWaterTrack(t) {  // ray casting against the water polygons (few, small)
  for (const f of S.zones?.features || []) {
    if (f.properties.kind !== 'water') continue;
    const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.type === 'MultiPolygon' ? f.geometry.coordinates : [];
    for (const poly of polys) {
      let inside = false;
      for (const ring of poly) {
        for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
          const [xi, yi] = ring[i], [xj, yj] = ring[j];
          if ((yi > t.lat) !== (yj > t.lat) && t.lon < (xj - xi) * (t.lat - yi) / (yj - yi) + xi) inside = !inside;
        }
      }
      if (inside) return true;
    }
  }
  return false;
}

function drawAlertMarks() {
  const g = $('l-alerts');
  g.textContent = '';
  for (const a of visibleAlerts()) {
    if (a.status === 'dismissed' || a.status === 'resolved') continue;
    const [x, y] = scr(a.lon, a.lat), col = SEV_COLOR[a.severity] || SEV_COLOR.info;
    const sel = S.selected === a.alert_id;
    const grp = el('g', {transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`, class: 'amark', 'data-alert': a.alert_id}, g);
    if (a.status === 'open' && SEVERITIES.indexOf(a.severity) >= 3) el('circle', {r: 12, fill: 'none', stroke: col, 'stroke-width': 2, class: 'pulse'}, grp);
    if (sel) el('circle', {r: 16, fill: 'none', stroke: '#e8eef3', 'stroke-width': 1.5, 'stroke-dasharray': '4 3'}, grp);
    el('path', {d: 'M0,-9L9,0L0,9L-9,0Z', fill: a.status === 'open' ? col : '#0a1016', stroke: col, 'stroke-width': 2}, grp);
    el('text', {y: 3.5, 'text-anchor': 'middle', 'font-size': 10, 'font-weight': 700, fill: a.status === 'open' ? '#000' : col}, grp).textContent = '!';
    grp.addEventListener('click', (e) => { e.stopPropagation(); selectAlert(a.alert_id, false); });
  }
}

function drawLinks() {  // selected alert -> the sensors that support it
  const g = $('l-links');
  g.textContent = '';
  const a = S.detail;
  if (!a) return;
  const [ax, ay] = scr(a.lon, a.lat);
  for (const sid of a.evidence?.sensors || []) {
    const s = S.sensors.find((x) => x.id === sid);
    if (!s) continue;
    const [x, y] = scr(s.lon, s.lat);
    el('line', {x1: ax, y1: ay, x2: x, y2: y, class: 'link'}, g);
  }
}

function drawScale() {
  const lat = unmerc(V.cx, V.cy)[1], mPerPx = 1 / V.k / mercScale(lat);
  const target = 120 * mPerPx, pow = Math.pow(10, Math.floor(Math.log10(target)));
  const nice = [1, 2, 5, 10].map((m) => m * pow).filter((m) => m <= target).pop() || pow;
  $('scalebar').style.width = (nice / mPerPx).toFixed(0) + 'px';
  $('scaletext').textContent = nice >= 1000 ? nice / 1000 + ' km' : nice + ' m';
}

// optional raster tiles (?tiles=https://host/{z}/{x}/{y}.png): Web Mercator like the map
const TILES = new URLSearchParams(location.search).get('tiles');
function drawTiles() {
  const g = $('tiles');
  g.textContent = '';
  if (!TILES) return;
  const world = 2 * Math.PI * R, z = Math.max(0, Math.min(19, Math.round(Math.log2(V.k * world / 256))));
  const n = 2 ** z, size = world / n;
  const [wx0, wy0] = fromScreen(0, 0), [wx1, wy1] = fromScreen(V.w, V.h);
  const gx = (x) => Math.floor((x + V.ox + world / 2) / size), gy = (y) => Math.floor((y - V.oy + world / 2) / size);
  for (let tx = gx(wx0); tx <= gx(wx1); tx++) for (let ty = gy(wy0); ty <= gy(wy1); ty++) {
    if (ty < 0 || ty >= n) continue;
    const x = tx * size - world / 2 - V.ox, y = ty * size - world / 2 + V.oy;
    const [sx, sy] = toScreen([x, y]);
    el('image', {href: TILES.replace('{z}', z).replace('{x}', ((tx % n) + n) % n).replace('{y}', ty),
      x: sx, y: sy, width: size * V.k + 0.5, height: size * V.k + 0.5, opacity: 0.55}, g);
  }
}

// ------------------------------------------------------------------ alert queue

function filters() {
  return {status: $('f-status').value, sev: SEVERITIES.indexOf($('f-severity').value),
    sector: $('f-sector').value, rule: $('f-rule').value};
}
function visibleAlerts() {
  const f = filters();
  return [...S.alerts.values()].filter((a) =>
    (f.status === 'all' || (f.status === 'active' ? ['open', 'acknowledged'].includes(a.status) : a.status === f.status))
    && SEVERITIES.indexOf(a.severity) >= f.sev
    && (!f.sector || a.sector === f.sector) && (!f.rule || a.rule === f.rule));
}
function sortAlerts(list) {
  return list.sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity)
    || (b.t_last || 0) - (a.t_last || 0) || String(a.alert_id).localeCompare(String(b.alert_id)));
}
const ruleName = (r) => String(r || '').replace(/[_-]+/g, ' ').replace(/^./, (c) => c.toUpperCase());

function renderQueue() {
  const list = sortAlerts(visibleAlerts()), ul = $('queue');
  const frag = document.createDocumentFragment();
  for (const a of list) {
    const li = document.createElement('li');
    li.className = 'alert' + (S.selected === a.alert_id ? ' sel' : '') + (['dismissed', 'resolved'].includes(a.status) ? ' closed' : '')
      + (a._flash ? ' flash' : '');
    li.dataset.id = a.alert_id; li.dataset.severity = a.severity; li.dataset.status = a.status;
    li.style.setProperty('--sev', SEV_COLOR[a.severity] || SEV_COLOR.info);
    li.innerHTML = `<div class="row1"><span class="sev">${esc(a.severity.toUpperCase())}</span><span class="rule">${esc(ruleName(a.rule))}</span>
      <span class="age" data-t="${a.t_last}">${age(a.t_last)}</span></div>
      <div class="summary">${esc(a.summary)}</div>
      <div class="meta"><span class="status st-${esc(a.status)}">${esc(a.status)}</span><span>${esc(a.sector)}</span>
      ${a.zone_id ? `<span>${esc(a.zone_id)}</span>` : ''}<span>score ${(a.score ?? 0).toFixed(2)}</span>${a.evidence?.escalated ? '<span style="color:#ff6b3d">▲ escalated</span>' : ''}</div>`;
    li.addEventListener('click', () => selectAlert(a.alert_id, true));
    frag.appendChild(li);
  }
  ul.textContent = ''; ul.appendChild(frag);
  for (const a of list) delete a._flash;
  $('qcount').textContent = list.length;
  $('qempty').style.display = list.length ? 'none' : 'block';
  const counts = {};
  for (const a of S.alerts.values()) if (['open', 'acknowledged'].includes(a.status)) counts[a.severity] = (counts[a.severity] || 0) + 1;
  $('sevcounts').innerHTML = ['critical', 'high', 'medium', 'low'].map((s) =>
    `<div class="sc" data-sev="${s}"><i style="background:${SEV_COLOR[s]}"></i>${s.toUpperCase()} <b>${counts[s] || 0}</b></div>`).join('');
  fillSelect('f-sector', new Set([...S.alerts.values()].map((a) => a.sector).concat(
    (S.zones?.features || []).filter((f) => f.properties.kind === 'sector').map((f) => f.properties.id))), 'All sectors');
  fillSelect('f-rule', new Set([...S.alerts.values()].map((a) => a.rule)), 'All rules', ruleName);
}
function fillSelect(id, values, all, label = (v) => v) {
  const sel = $(id), cur = sel.value, vals = [...values].filter(Boolean).sort();
  if (sel.options.length === vals.length + 1 && vals.every((v, i) => sel.options[i + 1].value === v)) return;
  sel.innerHTML = `<option value="">${all}</option>` + vals.map((v) => `<option value="${esc(v)}">${esc(label(v))}</option>`).join('');
  sel.value = vals.includes(cur) ? cur : '';
}
function age(t) {
  if (!t) return '';
  // ages against the wall clock, or the picture's own clock when it is a replay of the past
  const now = Date.now() / 1000, ref = now - S.tLatest < 3600 ? now : S.tLatest, s = Math.max(0, ref - t);
  return s < 60 ? `${s.toFixed(0)}s` : s < 3600 ? `${(s / 60).toFixed(0)}m` : s < 86400 ? `${(s / 3600).toFixed(1)}h` : `${(s / 86400).toFixed(0)}d`;
}
function fmtTime(t) { return t ? new Date(t * 1000).toISOString().slice(11, 19) + 'Z' : '—'; }
function fmtDate(t) { return t ? new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : '—'; }

// ------------------------------------------------------------------ alert detail

async function selectAlert(id, centre) {
  S.selected = id;
  if ($('banner').dataset.id === id) $('banner').hidden = true;
  const a = S.alerts.get(id);
  if (a && centre) {  // centre in the part of the map the detail card leaves free
    const p = merc(a.lon, a.lat);
    V.k = Math.max(V.k, 0.15); V.cx = p[0] + 196 / V.k; V.cy = p[1]; applyView();
  }
  renderQueue();
  await loadDetail(id);
}
async function loadDetail(id) {
  try {
    const r = await fetch('/api/alerts/' + encodeURIComponent(id));
    if (r.status === 401) return toLogin();
    if (!r.ok) return;
    if (S.selected !== id) return;
    S.detail = await r.json();
  } catch (e) { return; }
  renderDetail(); drawTrails(); drawScreen();
}
function closeDetail() { S.selected = null; S.detail = null; $('detail').hidden = true; renderQueue(); drawTrails(); drawScreen(); }

function renderDetail() {
  const a = S.detail, box = $('detail');
  if (!a) { box.hidden = true; return; }
  const live = S.alerts.get(a.alert_id) || a;
  Object.assign(a, live);
  const canAct = (S.me?.permissions || []).includes('act'), closed = ['dismissed', 'resolved'].includes(a.status);
  const ev = a.evidence || {}, details = ev.details || {};
  const tracks = a.tracks || [];
  const hist = tracks.flatMap((t) => (t.trail || []).slice(-8).map((p) => [t.track_id, ...p])).sort((x, y) => y[1] - x[1]).slice(0, 12);
  box.style.setProperty('--sev', SEV_COLOR[a.severity]);
  box.innerHTML = `
   <div class="dh"><span class="sev" style="--sev:${SEV_COLOR[a.severity]}">${esc(a.severity.toUpperCase())}</span>
     <b>${esc(ruleName(a.rule))}</b><span class="status st-${esc(a.status)}" id="d-status">${esc(a.status)}</span>
     <button class="close" id="d-close" title="close">×</button></div>
   <div class="sec"><div class="dsum">${esc(a.summary)}</div></div>
   <div class="sec"><h4>ACTIONS</h4>
     <div class="actions">
       <button id="btn-ack" ${!canAct || a.status !== 'open' ? 'disabled' : ''}>ACKNOWLEDGE</button>
       <button id="btn-escalate" ${!canAct ? 'disabled' : ''}>ESCALATE</button>
       <button id="btn-resolve" ${!canAct || closed ? 'disabled' : ''}>RESOLVE</button>
       <button id="btn-dismiss" ${!canAct || closed ? 'disabled' : ''}>DISMISS</button>
     </div>
     <textarea id="note" class="note" placeholder="Note (required to dismiss)" ${!canAct ? 'disabled' : ''}></textarea>
     <div id="amsg" class="amsg">${canAct ? '' : 'Read-only role: actions need a coordinator.'}</div></div>
   <div class="sec"><dl class="kv">
     <dt>Alert</dt><dd>${esc(a.alert_id)}</dd>
     <dt>Score</dt><dd>${(a.score ?? 0).toFixed(2)}</dd>
     <dt>First seen</dt><dd>${fmtDate(a.t_first)}</dd><dt>Last update</dt><dd>${fmtDate(a.t_last)}</dd>
     <dt>Position</dt><dd>${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}</dd>
     <dt>Sector / zone</dt><dd>${esc(a.sector)} / ${esc(a.zone_id || '—')}</dd>
     <dt>Tracks</dt><dd>${esc((a.track_ids || []).join(', '))}</dd>
     ${a.mmsi ? `<dt>MMSI</dt><dd>${esc(a.mmsi)}</dd>` : ''}
     <dt>Class</dt><dd>${esc(a.classification || 'unclassified')}</dd>
     ${Object.entries(details).slice(0, 8).map(([k, v]) => `<dt>${esc(k.replace(/_/g, ' '))}</dt><dd>${esc(typeof v === 'number' ? +v.toFixed(3) : typeof v === 'string' ? v : JSON.stringify(v))}</dd>`).join('')}
   </dl></div>
   <div class="sec"><h4>SENSORS INVOLVED</h4><div class="chips">${(ev.sensors || []).map((s) =>
     `<span class="chip" data-sensor="${esc(s)}"><i style="background:${HEALTH_COLOR[sensorHealth(s)]}"></i>${esc(s)}</span>`).join('') || '<span class="chip">none recorded</span>'}</div>
     <div class="amsg">${(ev.obs_ids || []).length} supporting observation(s)</div></div>
   <div class="sec"><h4>TRACK HISTORY</h4>${hist.length ? `<table class="hist"><tr><th>track</th><th>time</th><th>lat</th><th>lon</th></tr>
     ${hist.map(([tid, t, lat, lon]) => `<tr><td>${esc(tid)}</td><td>${fmtTime(t)}</td><td>${lat.toFixed(5)}</td><td>${lon.toFixed(5)}</td></tr>`).join('')}</table>`
     : '<div class="amsg">track no longer live</div>'}</div>
   <div class="sec"><h4>LOG</h4><div class="log">${(ev.actions || []).slice().reverse().map((x) =>
     `<div>${fmtDate(x.t)} — <b>${esc(x.action)}</b> by ${esc(x.user || '?')}${x.note ? ': ' + esc(x.note) : ''}</div>`).join('') || 'no actions yet'}</div></div>`;
  box.hidden = false;
  $('d-close').onclick = closeDetail;
  for (const act of ['ack', 'escalate', 'resolve', 'dismiss']) $('btn-' + act).onclick = () => sendAck(a.alert_id, act);
}

async function sendAck(id, action) {
  const note = $('note').value.trim(), msg = $('amsg');
  if (action === 'dismiss' && !note) { msg.textContent = 'Write a note saying why before dismissing.'; msg.className = 'amsg err'; $('note').focus(); return; }
  msg.className = 'amsg'; msg.textContent = 'sending…';
  try {
    const r = await fetch(`/api/alerts/${encodeURIComponent(id)}/ack`, {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify({action, note})});
    const j = await r.json();
    if (r.status === 401) return toLogin();
    if (!r.ok) { msg.textContent = j.error || 'failed'; msg.className = 'amsg err'; return; }
    msg.textContent = `${action} recorded for ${j.user} at ${fmtTime(j.t)}; waiting for the alert service…`;
  } catch (e) { msg.textContent = 'server unreachable'; msg.className = 'amsg err'; }
}

// ------------------------------------------------------------------ cues

function beep(sev) {
  if (!S.sound) return;
  try {
    S.audio = S.audio || new (window.AudioContext || window.webkitAudioContext)();
    const ctx = S.audio, t0 = ctx.currentTime;
    const tones = sev === 'critical' ? [880, 660, 880, 660] : [740, 740];
    tones.forEach((f, i) => {
      const o = ctx.createOscillator(), g = ctx.createGain();
      o.type = 'square'; o.frequency.value = f; o.connect(g); g.connect(ctx.destination);
      g.gain.setValueAtTime(0.0001, t0 + i * 0.18); g.gain.exponentialRampToValueAtTime(0.12, t0 + i * 0.18 + 0.01);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.18 + 0.15);
      o.start(t0 + i * 0.18); o.stop(t0 + i * 0.18 + 0.16);
    });
  } catch (e) { /* audio unavailable */ }
}
let bannerTimer = null;
function announce(a) {
  const b = $('banner');
  b.className = 'banner' + (a.severity === 'high' ? ' high' : '');
  b.dataset.id = a.alert_id;
  b.textContent = `NEW ${a.severity.toUpperCase()} · ${ruleName(a.rule)} · ${a.summary}`;
  b.hidden = false;
  b.onclick = () => { b.hidden = true; selectAlert(a.alert_id, true); };
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => { b.hidden = true; }, 8000);
  beep(a.severity);
}

// ------------------------------------------------------------------ live stream

function onAlert(a) {
  const prev = S.alerts.get(a.alert_id);
  if (!prev && S.primed) {
    a._flash = true;
    if (a.status === 'open' && SEVERITIES.indexOf(a.severity) >= 3) announce(a);
  }
  S.alerts.set(a.alert_id, a);
  S.tLatest = Math.max(S.tLatest, a.t_last || 0);
}
function onTracks(list) {
  for (const t of list) {
    if (t.status === 'deleted') S.tracks.delete(t.track_id);
    else S.tracks.set(t.track_id, t);
    S.tLatest = Math.max(S.tLatest, t.t || 0);
  }
}
let queueDirty = false, trailsDirty = false;
function schedule() {
  if (queueDirty) { queueDirty = false; renderQueue(); if (S.detail) { renderDetailKeepNote(); } }
  if (trailsDirty) { trailsDirty = false; drawTrails(); }
  redraw();
  $('pictime').textContent = fmtTime(S.tLatest);
}
function renderDetailKeepNote() {
  const live = S.alerts.get(S.detail.alert_id);
  if (!live || live.status === $('d-status')?.textContent && live.t_last === S.detail.t_last) return;
  const note = $('note')?.value, msg = $('amsg')?.textContent;
  const statusChanged = live.status !== S.detail.status;
  renderDetail();
  if (statusChanged) return;  // the action took effect: start clean
  if (note) $('note').value = note;
  if (msg && $('amsg') && !$('amsg').textContent) $('amsg').textContent = msg;
}

function connect() {
  const es = new EventSource('/api/stream');
  es.addEventListener('open', () => { $('conn').className = 'conn live'; $('conn').textContent = 'LIVE'; });
  es.addEventListener('snapshot', (e) => {
    const d = JSON.parse(e.data);
    S.alerts = new Map(d.alerts.map((a) => [a.alert_id, a]));
    S.tracks = new Map(d.tracks.map((t) => [t.track_id, t]));
    if (d.sensors?.length) { S.sensors = d.sensors; drawCoverage(); $('nsensors').textContent = S.sensors.length; }
    S.tLatest = d.t_latest || 0;
    S.primed = true;
    queueDirty = trailsDirty = true; schedule();
  });
  es.addEventListener('alert', (e) => { onAlert(JSON.parse(e.data)); queueDirty = true; schedule(); });
  es.addEventListener('tracks', (e) => { onTracks(JSON.parse(e.data)); trailsDirty = true; schedule(); });
  es.addEventListener('error', async () => {
    $('conn').className = 'conn off'; $('conn').textContent = 'RECONNECTING';
    if (es.readyState === EventSource.CLOSED) {
      const r = await fetch('/api/me').catch(() => null);
      if (r && r.status === 401) return toLogin();
      setTimeout(connect, 2000);
    }
  });
}
function toLogin() { location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search); }

// ------------------------------------------------------------------ interaction

function setupMap() {
  const svg = $('map');
  const resize = () => { const r = svg.getBoundingClientRect(); V.w = r.width; V.h = r.height; applyView(); };
  window.addEventListener('resize', resize);
  let drag = null;
  svg.addEventListener('mousedown', (e) => { drag = {x: e.clientX, y: e.clientY, cx: V.cx, cy: V.cy}; svg.classList.add('drag'); });
  window.addEventListener('mouseup', () => { drag = null; svg.classList.remove('drag'); });
  window.addEventListener('mousemove', (e) => {
    const r = svg.getBoundingClientRect();
    const [lon, lat] = unmerc(...fromScreen(e.clientX - r.left, e.clientY - r.top));
    $('coords').textContent = `${lat.toFixed(5)}°, ${lon.toFixed(5)}°`;
    if (!drag) return;
    V.cx = drag.cx - (e.clientX - drag.x) / V.k; V.cy = drag.cy - (e.clientY - drag.y) / V.k; applyView();
  });
  svg.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = svg.getBoundingClientRect(), sx = e.clientX - r.left, sy = e.clientY - r.top;
    zoomAt(sx, sy, Math.exp(-e.deltaY * 0.0015));
  }, {passive: false});
  $('zin').onclick = () => zoomAt(V.w / 2, V.h / 2, 1.6);
  $('zout').onclick = () => zoomAt(V.w / 2, V.h / 2, 1 / 1.6);
  $('zfit').onclick = () => { fitBounds(); applyView(); };
  for (const id of ['ly-coverage', 'ly-trails', 'ly-sensors', 'ly-labels']) $(id).onchange = () => {
    $('l-coverage').style.display = $('ly-coverage').checked ? '' : 'none'; drawTrails(); drawScreen();
  };
  for (const id of ['f-status', 'f-severity', 'f-sector', 'f-rule']) $(id).onchange = () => { renderQueue(); redraw(); };
  resize();
}
function zoomAt(sx, sy, f) {
  const [wx, wy] = fromScreen(sx, sy);
  V.k = Math.max(1e-4, Math.min(20, V.k * f));
  V.cx = wx - (sx - V.w / 2) / V.k; V.cy = wy - (sy - V.h / 2) / V.k;
  applyView();
}

async function getJSON(url) {
  const r = await fetch(url);
  if (r.status === 401) { toLogin(); throw new Error('login'); }
  return r.json();
}

async function main() {
  S.me = await getJSON('/api/me');
  $('user').innerHTML = `<b>${esc(S.me.user)}</b> · ${esc(S.me.role)}`;
  $('logout').onclick = async () => { await fetch('/api/logout', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'}); toLogin(); };
  $('sound').onclick = () => {
    S.sound = !S.sound;
    $('sound').textContent = S.sound ? 'SOUND ON' : 'SOUND OFF';
    $('sound').classList.toggle('on', S.sound);
    if (S.sound) { S.audio = S.audio || new (window.AudioContext || window.webkitAudioContext)(); S.audio.resume(); beep('high'); }
  };
  const [zones, sensors] = await Promise.all([getJSON('/api/zones'), getJSON('/api/sensors')]);
  S.zones = zones; S.sensors = sensors;
  $('nsensors').textContent = sensors.length;
  let lon0 = 0, lat0 = 0, n = 0;
  walk(zones.features?.filter((f) => f.properties.kind !== 'territory').map((f) => f.geometry?.coordinates), (lon, lat) => { lon0 += lon; lat0 += lat; n++; });
  for (const s of sensors) { lon0 += s.lon; lat0 += s.lat; n++; }
  if (n) { const x = R * (lon0 / n) * Math.PI / 180, y = R * Math.log(Math.tan(Math.PI / 4 + (lat0 / n) * Math.PI / 360)); V.ox = x; V.oy = y; }
  drawZones(); drawCoverage();
  const r = $('map').getBoundingClientRect(); V.w = r.width; V.h = r.height;
  fitBounds();
  setupMap();
  connect();
  setInterval(() => {
    $('clock').textContent = new Date().toISOString().slice(11, 19);
    for (const s of document.querySelectorAll('.age[data-t]')) s.textContent = age(+s.dataset.t);
  }, 1000);
  setInterval(async () => {  // sensor health changes slowly: poll it
    try { S.sensors = await getJSON('/api/sensors'); redraw(); } catch (e) { /* next time */ }
  }, 10000);
}
main();
