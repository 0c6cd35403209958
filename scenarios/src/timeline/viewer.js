// faultline timeline viewer: draws one simulated run (the JSON in
// #timeline-data, schema format 1) as lanes on a canvas, with the rare,
// important marks (faults, crashes, damage, late reports, poisonings, the
// violation) as DOM elements on top so they can be counted and clicked.
(() => {
  'use strict';
  const T0 = performance.now();

  // ---- constants -----------------------------------------------------------

  // Every class the schema names. A class not listed here (a newer Rust side)
  // is appended at load and drawn grey, so the page never breaks on it.
  const CLASS_STYLE = {
    'call': { color: '#6a8bb3', severity: 1, shape: 'tick' },
    'call-failed': { color: '#d1343a', severity: 5, shape: 'failTick' },
    'run': { color: '#4a4f57', severity: 2, shape: 'diamond' },
    'engine': { color: '#2e8b6e', severity: 2, shape: 'block' },
    'engine-failed': { color: '#b8441b', severity: 3, shape: 'block' },
    'client': { color: '#7a5fc0', severity: 2, shape: 'dot' },
    'client-refused': { color: '#e07b00', severity: 4, shape: 'ring' },
    // Drawn as DOM elements (overlay); severity still ranks them in lists.
    'report': { color: '#c79a00', severity: 6, overlay: true },
    'damage': { color: '#d9730d', severity: 6, overlay: true },
    'poison': { color: '#8e24aa', severity: 6, overlay: true },
    'fault': { color: '#e3120b', severity: 7, overlay: true },
    'crash': { color: '#6b0f1a', severity: 8, overlay: true },
    'violation': { color: '#d6006e', severity: 9, overlay: true },
  };
  const UNKNOWN_STYLE = { color: '#9aa0a6', severity: 0, shape: 'tick' };

  const TOP_H = 40;           // incarnation strip (16) + time axis (24)
  const STRIP_H = 16;
  const LANE_H = 18;
  const RUN_LANE_H = 24;
  const OFFSETS_LANE_H = 86;
  const GROUP_H = 17;
  const BUCKET_PX = 3;        // aggregation column width
  const HIT_PX = 4;           // click tolerance around a bucket
  const LIST_CAP = 50;
  const COLLAPSIBLE = { dir: true, file: true };
  const MAX_OPEN_LANES = 48;  // a bigger group starts collapsed: keeps the canvas a sane size
  const MONO = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
  const SANS = '11px system-ui, -apple-system, "Segoe UI", sans-serif';

  // ---- data ------------------------------------------------------------------

  const data = JSON.parse(document.getElementById('timeline-data').textContent);
  const marks = data.marks;
  const lanes = data.lanes;
  const N = marks.length;

  const classNames = Object.keys(CLASS_STYLE);
  const kindClass = data.kinds.map(k => {
    let id = classNames.indexOf(k.class);
    if (id < 0) { id = classNames.length; classNames.push(k.class); }
    return id;
  });
  const styleOf = classNames.map(c => CLASS_STYLE[c] || UNKNOWN_STYLE);
  const severity = styleOf.map(s => s.severity);
  const isCall = classNames.map(c => c === 'call' || c === 'call-failed');

  // Column arrays: the hot loops read these, never the JSON tuples.
  const tNs = new Float64Array(N);
  const order = new Float64Array(N);
  const laneOf = new Uint32Array(N);
  const clsOf = new Uint8Array(N);
  for (let i = 0; i < N; i++) {
    const m = marks[i];
    tNs[i] = m[0];
    order[i] = i;
    laneOf[i] = m[1];
    clsOf[i] = kindClass[m[2]];
  }

  // Per lane: every mark (hit tests, counts) and the canvas-drawn ones, both
  // as mark indices; x grows with the index on either axis, so both stay
  // sorted by x and can be binary searched. Overlay marks are listed apart.
  function buildLaneIndex() {
    const all = lanes.map(() => []), canvas = lanes.map(() => []), calls = lanes.map(() => 0);
    const overlay = [];
    for (let i = 0; i < N; i++) {
      const l = laneOf[i];
      all[l].push(i);
      if (styleOf[clsOf[i]].overlay) overlay.push(i); else canvas[l].push(i);
      if (isCall[clsOf[i]]) calls[l]++;
    }
    return { all: all, canvas: canvas, overlay: overlay, calls: calls };
  }
  const index = buildLaneIndex();

  const spansByLane = lanes.map(() => []);
  data.spans.forEach(s => { if (spansByLane[s[2]]) spansByLane[s[2]].push(s); });
  const incarnations = data.incarnations || [];
  const offsets = data.offsets || { submitted: [], acked: [], recovered: [] };
  const violation = data.violation || null;
  const offsetsLane = lanes.findIndex(l => l.group === 'offsets');

  // ---- view state --------------------------------------------------------------

  const view = { axis: 'time', x0: 0, x1: 1, width: 800, height: 100 };
  let xs = tNs;               // x of mark i in world units: tNs or order
  let selected = -1;
  let rows = [];              // layout rows, top to bottom
  let laneRow = [];           // lane index -> its row (a collapsed group's row)
  const collapsed = {};
  Object.keys(COLLAPSIBLE).forEach(g => {
    collapsed[g] = lanes.filter(l => l.group === g).length > MAX_OPEN_LANES;
  });

  const extent = () => (N ? [xs[0], xs[N - 1]] : [0, 1]);
  const minSpan = () => (view.axis === 'time' ? 1000 : 8);     // 1 us, or 8 marks
  const fullSpan = () => Math.max(extent()[1] - extent()[0], minSpan());
  const scale = () => view.width / (view.x1 - view.x0);
  const toPx = x => (x - view.x0) * scale();
  const toWorld = px => view.x0 + px / scale();

  // First position k in the sorted mark-index array `arr` (all marks when
  // arr is null) whose x is >= x (lowerBound) or > x (upperBound).
  function bound(arr, x, upper) {
    let lo = 0, hi = arr ? arr.length : N;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1, v = xs[arr ? arr[mid] : mid];
      if (v < x || (upper && v === x)) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  const lowerBound = (arr, x) => bound(arr, x, false);
  const upperBound = (arr, x) => bound(arr, x, true);

  // Every view change goes through here: the span is kept between a useful
  // minimum and a little more than the run, and the run is kept in sight.
  function setView(x0, x1) {
    const full = fullSpan(), e = extent(), margin = full * 0.05;
    const span = Math.min(Math.max(x1 - x0, minSpan()), full * 1.2);
    let lo = (x0 + x1 - span) / 2;
    if (span >= full) lo = (e[0] + e[1] - span) / 2;
    else lo = Math.min(Math.max(lo, e[0] - margin), e[1] + margin - span);
    view.x0 = lo;
    view.x1 = lo + span;
  }
  function fit() {
    const e = extent(), pad = fullSpan() * 0.02;
    setView(e[0] - pad, e[1] + pad);
  }
  function zoomAt(factor, px) {
    const w = toWorld(px), span = (view.x1 - view.x0) * factor;
    setView(w - (px / view.width) * span, w + (1 - px / view.width) * span);
  }
  function pan(fraction) {
    const d = (view.x1 - view.x0) * fraction;
    setView(view.x0 + d, view.x1 + d);
  }
  const zoomIn = () => zoomAt(0.5, view.width / 2);
  const zoomOut = () => zoomAt(2, view.width / 2);

  // Keeps the same marks in view across the switch: the edges are mapped
  // through the marks they fall on.
  function setAxis(axis) {
    if (axis === view.axis || N === 0) return;
    const a = Math.min(lowerBound(null, view.x0), N - 1);
    const b = Math.max(upperBound(null, view.x1) - 1, a);
    view.axis = axis;
    xs = axis === 'time' ? tNs : order;
    if (axis === 'order') setView(a - 0.5, b + 0.5);
    else setView(tNs[a], tNs[b]);
  }

  // Centres mark i with about 120 marks of context around it.
  function focusMark(i) {
    const a = Math.max(0, i - 60), b = Math.min(N - 1, i + 60);
    const half = Math.max((xs[b] - xs[a]) / 2, minSpan());
    setView(xs[i] - half, xs[i] + half);
  }

  // ---- layout --------------------------------------------------------------------

  function laneHeight(lane) {
    if (lane.group === 'offsets') return OFFSETS_LANE_H;
    if (lane.group === 'run') return RUN_LANE_H;
    return LANE_H;
  }

  // Rows: one per lane, plus a header row before each collapsible group; the
  // lanes of a collapsed group are drawn together in its header row.
  function computeLayout() {
    rows = [];
    laneRow = new Array(lanes.length);
    let y = TOP_H, groupRow = null;
    lanes.forEach((lane, l) => {
      if (COLLAPSIBLE[lane.group] && (!groupRow || groupRow.group !== lane.group)) {
        groupRow = { y: y, h: GROUP_H, group: lane.group, lanes: [], header: true };
        rows.push(groupRow);
        y += GROUP_H;
      } else if (!COLLAPSIBLE[lane.group]) {
        groupRow = null;
      }
      if (groupRow) groupRow.lanes.push(l);
      if (groupRow && collapsed[lane.group]) {
        laneRow[l] = groupRow;
        return;
      }
      const row = { y: y, h: laneHeight(lane), lanes: [l], header: false };
      rows.push(row);
      laneRow[l] = row;
      y += row.h;
    });
    view.height = y + 1;
  }

  function rowAt(y) {
    for (let r = 0; r < rows.length; r++) {
      if (y >= rows[r].y && y < rows[r].y + rows[r].h) return rows[r];
    }
    return null;
  }
  // Lanes whose marks a row shows: its own, or a collapsed group's.
  function rowLanes(row) {
    if (row.header) return collapsed[row.group] ? row.lanes : [];
    return row.lanes;
  }

  // ---- DOM -------------------------------------------------------------------------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  // A toolbar button: runs `action` (a view change), then redraws.
  function button(label, title, action) {
    const b = el('button', 'tl-btn', label);
    b.type = 'button';
    b.title = title;
    b.addEventListener('click', () => { action(); redraw(); });
    return b;
  }

  const root = document.getElementById('timeline');
  const details = document.getElementById('details');
  const ui = {};

  function buildToolbar() {
    const bar = el('div', 'tl-toolbar');
    bar.append(
      button('+', 'zoom in (+)', zoomIn),
      button('\u2212', 'zoom out (-)', zoomOut),
      button('fit', 'fit the whole run (0)', fit));
    const axis = el('div', 'tl-seg');
    ui.axisButtons = ['time', 'order'].map(a => {
      const b = button(a, a === 'time' ? 'x = simulated time' : 'x = mark order (sequence number)',
        () => setAxis(a));
      b.dataset.axis = a;
      axis.append(b);
      return b;
    });
    ui.readout = el('span', 'tl-readout');
    bar.append(el('span', 'tl-label', 'axis'), axis, ui.readout, buildLegend());
    return bar;
  }

  function buildLegend() {
    const legend = el('span', 'tl-legend');
    classNames.forEach((c, id) => {
      const item = el('span', 'tl-legend-item');
      item.append(swatch(id), document.createTextNode(c));
      legend.append(item);
    });
    return legend;
  }

  function swatch(classId) {
    const sw = el('i', 'swatch');
    sw.style.background = styleOf[classId].color;
    return sw;
  }

  function buildLabels() {
    const col = el('div', 'tl-labels');
    col.style.width = labelWidth() + 'px';
    const corner = el('div', 'tl-corner', 'lanes');
    corner.style.height = TOP_H + 'px';
    col.append(corner);
    ui.laneEls = [];
    ui.groupEls = {};
    let group = null;
    lanes.forEach((lane, l) => {
      if (COLLAPSIBLE[lane.group] && group !== lane.group) {
        const head = el('div', 'group-header');
        head.dataset.group = lane.group;
        head.style.height = GROUP_H + 'px';
        head.addEventListener('click', () => { toggleGroup(lane.group); });
        ui.groupEls[lane.group] = head;
        col.append(head);
      }
      group = lane.group;
      const count = index.all[l].length;
      const div = el('div', 'lane', lane.name);
      div.dataset.group = lane.group;
      div.dataset.name = lane.name;
      div.dataset.marks = count;
      div.dataset.calls = index.calls[l];
      div.title = lane.name + ' (' + lane.group + '): ' + count + ' marks';
      div.style.height = laneHeight(lane) + 'px';
      div.style.lineHeight = (laneHeight(lane) - 1) + 'px';
      ui.laneEls.push(div);
      col.append(div);
    });
    return col;
  }

  // Wide enough for the longest lane name, within reason: longer paths are
  // cut at their start (CSS), where paths share their prefix.
  function labelWidth() {
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = MONO;
    let w = 0;
    lanes.forEach(l => { w = Math.max(w, ctx.measureText(l.name).width); });
    return Math.round(Math.min(Math.max(w + 30, 170), 360));
  }

  function updateGroupHeaders() {
    Object.keys(ui.groupEls).forEach(g => {
      const n = lanes.filter(l => l.group === g).length;
      ui.groupEls[g].textContent = (collapsed[g] ? '\u25b8 ' : '\u25be ') + g + ' (' + n + ')';
    });
    ui.laneEls.forEach((div, l) => {
      div.classList.toggle('hidden', !!collapsed[lanes[l].group]);
    });
  }

  function toggleGroup(group) {
    collapsed[group] = !collapsed[group];
    computeLayout();
    updateGroupHeaders();
    resize();
  }

  function buildOverlay() {
    const layer = el('div', 'tl-overlay');
    ui.overlayEls = index.overlay.map(i => {
      const div = el('div', 'mark ' + classNames[clsOf[i]]);
      div.dataset.mark = i;
      div.title = marks[i][4];
      layer.append(div);
      return div;
    });
    layer.addEventListener('click', e => {
      const target = e.target.closest('.mark');
      if (!target) return;
      e.stopPropagation();
      const i = Number(target.dataset.mark);
      const near = marksNear(laneRow[laneOf[i]], toPx(xs[i]));
      select(i);
      showMark(i, near ? near.list : [i]);
    });
    // A drag that starts on a mark still pans.
    layer.addEventListener('mousedown', e => { e.stopPropagation(); startDrag(e); });
    return layer;
  }

  function build() {
    root.textContent = '';
    root.dataset.marks = N;
    root.dataset.calls = index.calls.reduce((a, b) => a + b, 0);
    root.dataset.lanes = lanes.length;
    const body = el('div', 'tl-body');
    const plot = el('div', 'tl-plot');
    ui.canvas = el('canvas', 'tl-canvas');
    ui.tip = el('div', 'tl-tip hidden');
    plot.append(ui.canvas, buildOverlay(), ui.tip);
    ui.plot = plot;
    body.append(buildLabels(), plot);
    root.append(buildToolbar(), body);
    root.tabIndex = 0;
    updateGroupHeaders();
    bindEvents();
  }

  // Sizes the canvas backing store for the device pixel ratio.
  function resize() {
    const dpr = window.devicePixelRatio || 1;
    view.width = Math.max(100, ui.plot.clientWidth);
    ui.plot.style.height = view.height + 'px';
    ui.canvas.style.width = view.width + 'px';
    ui.canvas.style.height = view.height + 'px';
    ui.canvas.width = Math.round(view.width * dpr);
    ui.canvas.height = Math.round(view.height * dpr);
    ui.dpr = dpr;
    draw();
  }

  // ---- drawing -------------------------------------------------------------------

  let frame = 0;
  function redraw() {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; draw(); });
  }

  function draw() {
    const ctx = ui.canvas.getContext('2d');
    ctx.setTransform(ui.dpr, 0, 0, ui.dpr, 0, 0);
    ctx.clearRect(0, 0, view.width, view.height);
    drawBands(ctx);
    drawRows(ctx);
    drawAxis(ctx);
    drawSpans();
    flushRects(ctx);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r], ls = rowLanes(row);
      for (let k = 0; k < ls.length; k++) {
        if (ls[k] === offsetsLane) drawOffsets(ctx, row);
        else drawLaneMarks(ctx, index.canvas[ls[k]], row);
      }
    }
    flushRects(ctx);
    drawEventLines(ctx);
    drawSelection(ctx);
    positionOverlay();
    updateToolbar();
  }

  // Rectangles grouped by fill style: each group is filled as one path, far
  // cheaper than a fillRect per bucket on a software canvas (about 10x here).
  const batches = new Map();
  function batchRect(color, alpha, x, y, w, h) {
    const key = color + alpha;
    let group = batches.get(key);
    if (!group) { group = { color: color, alpha: alpha, rects: [] }; batches.set(key, group); }
    group.rects.push(x, y, w, h);
  }
  function flushRects(ctx) {
    batches.forEach(group => {
      const r = group.rects;
      ctx.fillStyle = group.color;
      ctx.globalAlpha = group.alpha;
      ctx.beginPath();
      for (let k = 0; k < r.length; k += 4) ctx.rect(r[k], r[k + 1], r[k + 2], r[k + 3]);
      ctx.fill();
    });
    batches.clear();
    ctx.globalAlpha = 1;
  }

  // Incarnation bands: alternating shades behind every lane; the gap between
  // one band's end and the next's start is the time the machine was down.
  function bandEdges(inc) {
    const pad = view.axis === 'order' ? 0.5 : 0;
    return [toPx(xs[inc.first_mark] - pad), toPx(xs[inc.last_mark] + pad)];
  }

  function drawBands(ctx) {
    ctx.fillStyle = '#fbfbfc';
    ctx.fillRect(0, 0, view.width, view.height);
    ctx.font = SANS;
    ctx.textBaseline = 'middle';
    incarnations.forEach((inc, k) => {
      const e = bandEdges(inc);
      if (e[1] < 0 || e[0] > view.width) return;
      const x0 = Math.max(e[0], 0), x1 = Math.min(Math.max(e[1], e[0] + 1), view.width);
      ctx.fillStyle = k % 2 ? '#eef2f7' : '#f6f8fb';
      ctx.fillRect(x0, STRIP_H, x1 - x0, view.height - STRIP_H);
      ctx.fillStyle = k % 2 ? '#dfe6f0' : '#e9eef5';
      ctx.fillRect(x0, 0, x1 - x0, STRIP_H);
      drawBandLabel(ctx, inc, x0, x1);
    });
  }

  // A band is one life of the process: an incarnation of the plan, a
  // restart after an open failed on a fault, or the final recovery.
  function bandName(inc) {
    return inc.label || '#' + inc.index;
  }

  // The band holding mark i (bands cover the marks in order).
  function bandOf(i) {
    return incarnations.find(x => x.first_mark <= i && i <= x.last_mark);
  }

  function drawBandLabel(ctx, inc, x0, x1) {
    const room = x1 - x0 - 8;
    const long = bandName(inc) + (inc.ended ? ' \u00b7 ended: ' + inc.ended : '');
    const short = ctx.measureText(bandName(inc)).width <= room ? bandName(inc) : '#' + inc.index;
    const label = ctx.measureText(long).width <= room ? long : short;
    if (ctx.measureText(label).width > room) return;
    ctx.fillStyle = '#3c4450';
    ctx.fillText(label, x0 + 4, STRIP_H / 2);
  }

  // Row separators; group header rows get a light shade.
  function drawRows(ctx) {
    rows.forEach(row => {
      if (row.header) batchRect('#3c465a', 0.07, 0, row.y, view.width, row.h);
      batchRect('#d9dde3', 1, 0, row.y + row.h - 1, view.width, 1);
    });
    flushRects(ctx);
  }

  // Ticks about every 110 px at a 1-2-5 step; labels in ms, or mark indices.
  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }

  function drawAxis(ctx) {
    const time = view.axis === 'time';
    const step = Math.max(niceStep((view.x1 - view.x0) / (view.width / 110)), 1);
    const decimals = time ? Math.min(6, Math.max(0, Math.ceil(-Math.log10(step / 1e6)))) : 0;
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, STRIP_H, view.width, TOP_H - STRIP_H);
    ctx.fillStyle = '#c4c9d0';
    ctx.fillRect(0, TOP_H - 1, view.width, 1);
    ctx.font = SANS;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    for (let x = Math.ceil(view.x0 / step) * step; x <= view.x1; x += step) {
      const px = Math.round(toPx(x)) + 0.5;
      ctx.fillStyle = 'rgba(80,90,110,0.12)';
      ctx.fillRect(px, TOP_H, 1, view.height - TOP_H);
      ctx.fillStyle = '#8a929e';
      ctx.fillRect(px, TOP_H - 6, 1, 6);
      const label = time ? (x / 1e6).toFixed(decimals) + ' ms' : String(Math.round(x));
      if (px + 3 + ctx.measureText(label).width > view.width) continue;
      ctx.fillStyle = '#3c4450';
      ctx.fillText(label, px + 3, STRIP_H + 10);
    }
  }

  function drawSpans() {
    for (let l = 0; l < lanes.length; l++) {
      const row = laneRow[l], list = spansByLane[l];
      const h = Math.max(4, row.h - 6), y = row.y + (row.h - h) / 2 - 0.5;
      for (let k = 0; k < list.length; k++) {
        const s = list[k];
        const a = toPx(xs[s[0]]), b = toPx(xs[s[1]]);
        if (b < 0 || a > view.width) continue;
        const color = styleOf[kindClass[s[3]]].color;
        batchRect(color, 0.16, a, y, Math.max(b - a, 1), h);
        batchRect(color, 0.5, a, y, 1, h);
      }
    }
  }

  // One pass over the visible marks of a lane. Marks falling in the same
  // BUCKET_PX column form a bucket: alone it is drawn as its class's shape,
  // together as one bar whose height and opacity grow with log2(count) and
  // whose colour is its most severe class. Buckets are batched (flushRects).
  function drawLaneMarks(ctx, arr, row) {
    if (!arr.length) return;
    const s = scale(), x0 = view.x0;
    const lo = lowerBound(arr, toWorld(-BUCKET_PX)), hi = upperBound(arr, toWorld(view.width + BUCKET_PX));
    const cy = row.y + (row.h - 1) / 2, h = row.h - 4;
    let k = lo;
    while (k < hi) {
      const first = arr[k];
      const col = Math.floor((xs[first] - x0) * s / BUCKET_PX);
      let worst = clsOf[first], j = k + 1;
      while (j < hi && Math.floor((xs[arr[j]] - x0) * s / BUCKET_PX) === col) {
        if (severity[clsOf[arr[j]]] > severity[worst]) worst = clsOf[arr[j]];
        j++;
      }
      if (j - k === 1) drawShape(ctx, worst, (xs[first] - x0) * s, cy, h);
      else drawBucket(worst, j - k, col * BUCKET_PX, cy, h);
      k = j;
    }
  }

  // Opacity comes in four steps so that buckets share few fill styles.
  function drawBucket(cls, count, x, cy, h) {
    const f = Math.min(1, Math.log2(count) / 8);
    const bh = Math.max(3, h * (0.35 + 0.65 * f));
    batchRect(styleOf[cls].color, 0.55 + 0.15 * Math.round(f * 3), x, cy - bh / 2, BUCKET_PX - 1, bh);
  }

  const SHAPES = {
    tick: (ctx, x, cy, h) => { ctx.fillRect(x - 0.75, cy - h * 0.32, 1.5, h * 0.64); },
    failTick: (ctx, x, cy, h) => {
      ctx.fillRect(x - 1, cy - h / 2, 2, h);
      ctx.fillRect(x - 2.5, cy - h / 2, 5, 3);
    },
    block: (ctx, x, cy, h) => { ctx.fillRect(x - 2, cy - h * 0.3, 4, h * 0.6); },
    diamond: (ctx, x, cy) => {
      ctx.beginPath();
      ctx.moveTo(x, cy - 5); ctx.lineTo(x + 4, cy); ctx.lineTo(x, cy + 5); ctx.lineTo(x - 4, cy);
      ctx.fill();
    },
    dot: (ctx, x, cy) => { ctx.beginPath(); ctx.arc(x, cy, 3, 0, 2 * Math.PI); ctx.fill(); },
    ring: (ctx, x, cy) => {
      ctx.beginPath(); ctx.arc(x, cy, 3.5, 0, 2 * Math.PI);
      ctx.lineWidth = 2; ctx.strokeStyle = ctx.fillStyle; ctx.stroke();
    },
  };

  function drawShape(ctx, cls, x, cy, h) {
    ctx.fillStyle = styleOf[cls].color;
    SHAPES[styleOf[cls].shape || 'tick'](ctx, x, cy, h);
  }

  // Offsets lane: step lines for submitted and acknowledged, a dot per
  // recovery. The y scale fits the values in view, so a zoomed-in window
  // still shows the steps.
  function drawOffsets(ctx, row) {
    const a = lowerBound(null, view.x0), b = upperBound(null, view.x1);
    // The points in view; for a step line, also the one in force at the left edge.
    const series = [offsets.submitted, offsets.acked, offsets.recovered].map((points, k) => ({
      points: points,
      lo: Math.max(0, markLowerBound(points, a) - (k < 2 ? 1 : 0)),
      hi: markLowerBound(points, b),
    }));
    let min = Infinity, max = -Infinity;
    series.forEach(sr => {
      for (let k = sr.lo; k < sr.hi; k++) {
        min = Math.min(min, sr.points[k][1]);
        max = Math.max(max, sr.points[k][1]);
      }
    });
    if (min > max) return;
    if (max - min < 1) { min = Math.max(0, min - 1); max = min + 2; }
    const top = row.y + 16, bottom = row.y + row.h - 6;
    const yOf = v => bottom - ((v - min) / (max - min)) * (bottom - top);
    ctx.fillStyle = 'rgba(80,90,110,0.15)';
    ctx.fillRect(0, Math.round(top) + 0.5, view.width, 1);
    ctx.fillRect(0, Math.round(bottom) + 0.5, view.width, 1);
    drawSteps(ctx, series[0], CLASS_STYLE.client.color, yOf);
    drawSteps(ctx, series[1], CLASS_STYLE.engine.color, yOf);
    drawRecovered(ctx, series[2], yOf);
    ctx.font = SANS;
    ctx.textAlign = 'left';
    ctx.fillStyle = '#5f6773';
    ctx.fillText(String(max), 4, top + 6);
    ctx.fillText(String(min), 4, bottom - 6);
    drawOffsetsLegend(ctx, row.y + 7);
  }

  function drawSteps(ctx, sr, color, yOf) {
    if (sr.lo >= sr.hi) return;
    const p = sr.points;
    ctx.beginPath();
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    let prevY = yOf(p[sr.lo][1]);
    ctx.moveTo(toPx(xs[p[sr.lo][0]]), prevY);
    for (let k = sr.lo + 1; k < sr.hi; k++) {
      const x = toPx(xs[p[k][0]]), y = yOf(p[k][1]);
      ctx.lineTo(x, prevY);
      ctx.lineTo(x, y);
      prevY = y;
    }
    ctx.lineTo(Math.min(toPx(xs[N - 1]), view.width), prevY);
    ctx.stroke();
  }

  function drawRecovered(ctx, sr, yOf) {
    ctx.fillStyle = '#1d2330';
    ctx.strokeStyle = '#ffffff';
    ctx.lineWidth = 1.5;
    for (let k = sr.lo; k < sr.hi; k++) {
      ctx.beginPath();
      ctx.arc(toPx(xs[sr.points[k][0]]), yOf(sr.points[k][1]), 3.5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  }

  // First k with points[k][0] (a mark index) >= mark.
  function markLowerBound(points, mark) {
    let lo = 0, hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid][0] < mark) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  // Right-aligned in the lane's top margin, on a white backing.
  function drawOffsetsLegend(ctx, y) {
    const items = [['submitted', CLASS_STYLE.client.color], ['acknowledged', CLASS_STYLE.engine.color],
      ['recovered', '#1d2330']];
    ctx.textAlign = 'left';
    const width = items.reduce((w, item) => w + 30 + ctx.measureText(item[0]).width, -14);
    let x = view.width - 8 - width;
    ctx.fillStyle = 'rgba(255,255,255,0.85)';
    ctx.fillRect(x - 4, y - 7, width + 8, 14);
    items.forEach(item => {
      ctx.fillStyle = item[1];
      ctx.fillRect(x, y - 1, 12, 2.5);
      ctx.fillStyle = '#3c4450';
      ctx.fillText(item[0], x + 16, y);
      x += 16 + ctx.measureText(item[0]).width + 14;
    });
  }

  // Crashes and the violation cut across every lane: that is where to look.
  function drawEventLines(ctx) {
    for (let k = 0; k < index.overlay.length; k++) {
      const i = index.overlay[k], c = classNames[clsOf[i]];
      if (c !== 'crash' && c !== 'violation') continue;
      const x = Math.round(toPx(xs[i])) + 0.5;
      if (x < 0 || x > view.width) continue;
      ctx.strokeStyle = CLASS_STYLE[c].color;
      ctx.lineWidth = c === 'violation' ? 2 : 1;
      ctx.setLineDash(c === 'violation' ? [] : [4, 3]);
      ctx.globalAlpha = c === 'violation' ? 0.85 : 0.6;
      ctx.beginPath(); ctx.moveTo(x, STRIP_H); ctx.lineTo(x, view.height); ctx.stroke();
    }
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
  }

  function drawSelection(ctx) {
    if (selected < 0) return;
    const x = toPx(xs[selected]), row = laneRow[laneOf[selected]];
    if (x < -10 || x > view.width + 10) return;
    ctx.fillStyle = 'rgba(26,115,232,0.18)';
    ctx.fillRect(Math.round(x) - 1, TOP_H, 3, view.height - TOP_H);
    ctx.strokeStyle = '#1a73e8';
    ctx.lineWidth = 2;
    ctx.strokeRect(x - 5, row.y + 1, 10, row.h - 3);
  }

  // Overlay marks are only moved, never created or removed, so their count
  // always matches the run; out of view they get `.off`.
  function positionOverlay() {
    for (let k = 0; k < ui.overlayEls.length; k++) {
      const i = index.overlay[k], div = ui.overlayEls[k];
      const row = laneRow[laneOf[i]], x = toPx(xs[i]), off = x < -8 || x > view.width + 8;
      div.classList.toggle('off', off);
      div.classList.toggle('selected', i === selected);
      if (!off) div.style.transform = 'translate(' + x.toFixed(1) + 'px,' + (row.y + row.h / 2 - 0.5) + 'px)';
    }
  }

  // The visible range in both units, with as many decimals as the zoom needs.
  function updateToolbar() {
    const a = lowerBound(null, view.x0), b = upperBound(null, view.x1) - 1;
    const t0 = Math.max(0, view.axis === 'time' ? view.x0 : tNs[Math.min(a, N - 1)] || 0);
    const t1 = view.axis === 'time' ? view.x1 : tNs[Math.max(b, 0)] || 0;
    const decimals = Math.min(6, Math.max(3, Math.ceil(2 - Math.log10(Math.max(t1 - t0, 1) / 1e6))));
    const range = b >= a ? 'marks #' + a + '\u2013#' + b + ' (' + (b - a + 1) + ')' : 'no marks';
    ui.readout.textContent = 't ' + fmtMs(t0, decimals) + '\u2013' + fmtMs(t1, decimals) + ' ms \u00b7 ' + range;
    ui.axisButtons.forEach(btn => { btn.classList.toggle('active', btn.dataset.axis === view.axis); });
  }

  function fmtMs(ns, decimals) { return (ns / 1e6).toFixed(decimals); }

  // ---- hit testing -----------------------------------------------------------------

  // Marks of the row near px: the click's bucket widened by HIT_PX. Returns
  // them in mark order, and the nearest (by px, then severity).
  function marksNear(row, px) {
    const col = Math.floor(px / BUCKET_PX);
    const wlo = toWorld(col * BUCKET_PX - HIT_PX), whi = toWorld((col + 1) * BUCKET_PX + HIT_PX);
    const found = [];
    rowLanes(row).forEach(l => {
      if (l === offsetsLane) return;
      const arr = index.all[l];
      for (let k = lowerBound(arr, wlo), hi = upperBound(arr, whi); k < hi; k++) found.push(arr[k]);
    });
    if (!found.length) return null;
    found.sort((a, b) => a - b);
    let best = found[0], bestKey = Infinity;
    found.forEach(i => {
      const key = Math.round(Math.abs(toPx(xs[i]) - px)) * 100 - severity[clsOf[i]];
      if (key < bestKey) { bestKey = key; best = i; }
    });
    return { nearest: best, list: found };
  }

  function spanAt(row, px) {
    const w = toWorld(px), tol = HIT_PX / scale();
    const ls = rowLanes(row);
    for (let k = 0; k < ls.length; k++) {
      const list = spansByLane[ls[k]];
      for (let j = 0; j < list.length; j++) {
        if (xs[list[j][0]] - tol <= w && w <= xs[list[j][1]] + tol) return list[j];
      }
    }
    return null;
  }

  function incarnationAt(px) {
    for (let k = 0; k < incarnations.length; k++) {
      const e = bandEdges(incarnations[k]);
      if (px >= e[0] - 2 && px <= e[1] + 2) return incarnations[k];
    }
    return null;
  }

  // What is under (px, py): a mark bucket, else a span, else the offsets
  // chart or the incarnation band.
  function hitTest(px, py) {
    const row = py >= TOP_H ? rowAt(py) : null;
    if (row) {
      const near = marksNear(row, px);
      if (near) return { marks: near };
      const span = spanAt(row, px);
      if (span) return { span: span };
      if (row.lanes[0] === offsetsLane && !row.header) return { offsets: offsetsAt(px) };
    }
    const inc = incarnationAt(px);
    return inc ? { inc: inc } : null;
  }

  // The latest submitted / acknowledged values at or before px.
  function offsetsAt(px) {
    const m = Math.max(0, upperBound(null, toWorld(px)) - 1);
    const last = points => {
      const k = markLowerBound(points, m + 1) - 1;
      return k >= 0 ? points[k][1] : '-';
    };
    return 'at mark #' + m + ' (' + fmtMs(tNs[m] || 0, 3) + ' ms): submitted ' + last(offsets.submitted) +
      ', acknowledged ' + last(offsets.acked) + ', last recovered ' + last(offsets.recovered);
  }

  // ---- details panel ---------------------------------------------------------------

  function select(i) {
    selected = i;
    redraw();
  }

  // Fills #details: a title (with its class's swatch), then name/value rows
  // ([name, value, optional class]), then any extra elements.
  function showDetails(title, cls, fields, extra) {
    const h = el('h2', 'det-title');
    if (cls) h.append(swatch(classNames.indexOf(cls)));
    h.append(document.createTextNode(title));
    const dl = el('dl', 'det-fields');
    fields.forEach(f => { dl.append(el('dt', null, f[0]), el('dd', f[2] || null, f[1])); });
    details.textContent = '';
    details.append(h, dl);
    (extra || []).forEach(e => { details.append(e); });
  }

  function showMark(i, list) {
    const m = marks[i], lane = lanes[m[1]], kind = data.kinds[m[2]];
    const inc = bandOf(i);
    const span = spansByLane[m[1]].find(s => s[0] <= i && i <= s[1]);
    const fields = [
      ['index', '#' + i],
      ['t', fmtMs(m[0], 6) + ' ms'],
      ['lane', lane.name + '  (' + lane.group + ')'],
      ['kind', kind.name + '  (' + kind.class + ')'],
      ['incarnation', (inc ? bandName(inc) : '#' + m[3]) + (inc && inc.ended ? '  ended: ' + inc.ended : '')],
    ];
    if (span) fields.push(['in span', span[4] + '  (#' + span[0] + '\u2013#' + span[1] + ')']);
    if (violation && violation.mark === i) {
      fields.push(['invariant', violation.invariant, 'violation-text'], ['detail', violation.detail, 'text']);
    }
    fields.push(['text', m[4], 'text']);
    showDetails('mark #' + i + ' \u00b7 ' + kind.name, kind.class, fields, list.length > 1 ? [markList(i, list)] : []);
  }

  // The other marks of the clicked bucket, each selectable; keeps the list.
  function markList(current, list) {
    const box = el('div', 'det-list');
    box.append(el('h3', null, list.length + ' marks here'));
    const ol = el('ol');
    list.slice(0, LIST_CAP).forEach(i => {
      const m = marks[i];
      const li = el('li', i === current ? 'current' : null);
      li.dataset.mark = i;
      li.append(swatch(clsOf[i]), el('span', 'idx', '#' + i), el('span', 't', fmtMs(m[0], 6)),
        el('span', 'kind', data.kinds[m[2]].name), el('span', 'txt', m[4]));
      li.addEventListener('click', () => { select(i); showMark(i, list); });
      ol.append(li);
    });
    box.append(ol);
    if (list.length > LIST_CAP) box.append(el('div', 'more', 'and ' + (list.length - LIST_CAP) + ' more'));
    return box;
  }

  function showSpan(s) {
    const kind = data.kinds[s[3]];
    showDetails('span \u00b7 ' + kind.name, kind.class, [
      ['marks', '#' + s[0] + '\u2013#' + s[1]],
      ['t', fmtMs(tNs[s[0]], 6) + ' \u2013 ' + fmtMs(tNs[s[1]], 6) + ' ms  (' +
        fmtMs(tNs[s[1]] - tNs[s[0]], 6) + ' ms)'],
      ['lane', lanes[s[2]].name],
      ['text', s[4], 'text'],
    ]);
  }

  function showIncarnation(inc) {
    showDetails(bandName(inc), null, [
      ['marks', '#' + inc.first_mark + '\u2013#' + inc.last_mark],
      ['t', fmtMs(tNs[inc.first_mark], 6) + ' \u2013 ' + fmtMs(tNs[inc.last_mark], 6) + ' ms'],
      ['recovery', inc.recovery || '(none)', 'text'],
      ['ended', inc.ended || '(ran to the end)', 'text'],
    ]);
  }

  function showHit(hit) {
    if (hit.marks) { select(hit.marks.nearest); showMark(hit.marks.nearest, hit.marks.list); }
    else if (hit.span) showSpan(hit.span);
    else if (hit.offsets) showDetails('offsets', null, [['values', hit.offsets]]);
    else if (hit.inc) showIncarnation(hit.inc);
  }

  function hitSummary(hit) {
    if (hit.marks) {
      const more = hit.marks.list.length - 1;
      return marks[hit.marks.nearest][4] + (more ? '   (+' + more + ' more here)' : '');
    }
    if (hit.span) return hit.span[4];
    if (hit.offsets) return hit.offsets;
    const inc = hit.inc;
    return bandName(inc) + ' \u00b7 ended: ' + (inc.ended || 'ran to the end') +
      ' \u00b7 recovery: ' + (inc.recovery || 'none');
  }

  // ---- interaction ------------------------------------------------------------------

  let drag = null;
  let hoverEvent = null;

  function localXY(e) {
    const r = ui.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  function startDrag(e) {
    if (e.button !== 0) return;
    const p = localXY(e);
    drag = { x: p[0], y: p[1], x0: view.x0, x1: view.x1, moved: false, target: e.target };
    e.preventDefault();
  }

  function onDragMove(e) {
    if (!drag) return;
    const p = localXY(e), dx = p[0] - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    if (!drag.moved) return;
    ui.plot.classList.add('dragging');
    const dw = dx / (view.width / (drag.x1 - drag.x0));
    setView(drag.x0 - dw, drag.x1 - dw);
    redraw();
  }

  // A press without movement is a click: on an overlay mark the overlay's
  // own click handler answers, elsewhere the canvas hit test does.
  function onDragEnd(e) {
    if (!drag) return;
    const d = drag;
    drag = null;
    ui.plot.classList.remove('dragging');
    if (d.moved || d.target.closest('.mark')) return;
    const p = localXY(e), hit = hitTest(p[0], p[1]);
    if (hit) showHit(hit);
  }

  // Hover is handled at most once per frame.
  function onHover(e) {
    const pending = hoverEvent;
    hoverEvent = e;
    if (pending) return;
    requestAnimationFrame(() => {
      const ev = hoverEvent;
      hoverEvent = null;
      if (drag && drag.moved) { ui.tip.classList.add('hidden'); return; }
      const p = localXY(ev);
      const hit = ev.target.closest('.mark') ? null : hitTest(p[0], p[1]);
      if (!hit || p[0] < 0 || p[0] > view.width) { ui.tip.classList.add('hidden'); return; }
      ui.tip.textContent = hitSummary(hit);
      ui.tip.classList.remove('hidden');
      const w = ui.tip.offsetWidth;
      ui.tip.style.transform = 'translate(' + Math.min(p[0] + 12, view.width - w - 4) + 'px,' +
        (p[1] + 16) + 'px)';
    });
  }

  const KEYS = {
    '+': zoomIn, '=': zoomIn, '-': zoomOut, '0': fit,
    'ArrowLeft': () => pan(-0.15), 'ArrowRight': () => pan(0.15),
  };
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest && e.target.closest('input, textarea, select, [contenteditable]')) return;
    const action = KEYS[e.key];
    if (!action) return;
    e.preventDefault();
    action();
    redraw();
  }

  function bindEvents() {
    const plot = ui.plot;
    plot.addEventListener('wheel', e => {
      e.preventDefault();
      const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
      zoomAt(Math.exp(e.deltaY * unit * 0.0015), localXY(e)[0]);
      redraw();
    }, { passive: false });
    ui.canvas.addEventListener('mousedown', startDrag);
    window.addEventListener('mousemove', onDragMove);
    window.addEventListener('mouseup', onDragEnd);
    plot.addEventListener('mousemove', onHover);
    plot.addEventListener('mouseleave', () => { ui.tip.classList.add('hidden'); });
    plot.addEventListener('dblclick', e => { zoomAt(0.5, localXY(e)[0]); redraw(); });
    document.addEventListener('keydown', onKey);
    window.addEventListener('resize', resize);
    const jump = document.getElementById('jump-to-violation');
    if (jump && violation) {
      jump.addEventListener('click', () => {
        focusMark(violation.mark);
        select(violation.mark);
        showMark(violation.mark, [violation.mark]);
        root.scrollIntoView({ block: 'nearest' });
      });
    }
  }

  // ---- start -------------------------------------------------------------------------

  function intro() {
    showDetails('details', null, [], [el('p', 'hint', 'Click a mark, a bucket, a span or an incarnation ' +
      'band. Wheel or +/- zooms, drag or arrow keys pan, 0 fits the run, double-click zooms in.')]);
  }

  computeLayout();
  build();
  fit();
  if (violation && violation.mark >= 0 && violation.mark < N) {
    selected = violation.mark;
    showMark(violation.mark, [violation.mark]);
  } else {
    intro();
  }
  resize();   // the first draw, synchronous: the page is complete after this line
  document.body.dataset.renderMs = (performance.now() - T0).toFixed(1);
  // From the start of the navigation: reading and parsing the file (its
  // data included) as well as the script's own work.
  document.body.dataset.loadMs = performance.now().toFixed(1);
  document.body.dataset.ready = '1';
})();
