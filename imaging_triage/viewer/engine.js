// imaging_triage in-browser image engine (Streamlit components v2, no build step).
//
// A series arrives once over HTTP from the loopback volume server (slabs of axial slices,
// gzip, stored precision) and is then scrolled, windowed, zoomed, panned and measured in
// the browser: no server round trip per slice. Views are drawn on 2-D canvases in
// radiological convention (patient's right on the screen's left).
//
// Contract for tests and assistive tools: every view is an element `.it-view` carrying
// data-view, data-slice (0-based), data-slices, data-window ("W/L"), data-series,
// data-zoom, data-origin ("x,y" CSS px of the image's top-left inside the view) and
// data-scale ("sx,sy" CSS px per image pixel), updated whenever the drawn frame changes.

const PLANES = {
  axial: { axis: 2, labels: ["R", "L", "A", "P"] },
  coronal: { axis: 1, labels: ["R", "L", "S", "I"] },
  sagittal: { axis: 0, labels: ["A", "P", "S", "I"] },
};
const TOOLS = [
  ["wl", "W/L", "Drag: window (left-right) and level (up-down); click: crosshair"],
  ["pan", "Pan", "Drag to pan (also middle button or Shift+drag)"],
  ["zoom", "Zoom", "Drag up/down to zoom (also right button or Ctrl+wheel)"],
  ["distance", "Distance", "Drag a line: length in mm"],
  ["ellipse", "Ellipse", "Drag a box: ellipse ROI mean, SD, min, max, area"],
  ["freehand", "Freehand", "Draw a closed outline: ROI statistics"],
  ["seed", "Seed", "Click a voxel: connected region within the seed range (HU on CT; around the seed on MR), as a volume"],
];
const STYLE = `
.it-engine{font:13px/1.3 system-ui,sans-serif;color:#ddd;background:#111;border-radius:6px;padding:4px;user-select:none}
.it-bar{display:flex;flex-wrap:wrap;gap:4px;align-items:center;margin-bottom:4px}
.it-bar button{background:#2a2a2a;color:#ddd;border:1px solid #444;border-radius:4px;padding:2px 8px;cursor:pointer;font:inherit}
.it-bar button[aria-pressed=true]{background:#1f5fa8;border-color:#5b9be0;color:#fff}
.it-bar .it-sep{width:1px;height:20px;background:#444;margin:0 4px}
.it-grid{display:grid;gap:3px}
.it-view{position:relative;background:#000;overflow:hidden;outline:none;touch-action:none}
.it-view[data-active=true]{box-shadow:inset 0 0 0 1px #5b9be0}
.it-view canvas{position:absolute;left:0;top:0;width:100%;height:100%;cursor:crosshair}
.it-ann{position:absolute;color:#e8e8e8;text-shadow:0 0 3px #000,0 0 2px #000;white-space:pre;pointer-events:none;font:12px/1.25 ui-monospace,monospace}
.it-tl{left:6px;top:4px}.it-tr{right:16px;top:4px;text-align:right}.it-bl{left:6px;bottom:4px}.it-br{right:16px;bottom:4px;text-align:right}
.it-or{position:absolute;color:#7fe0ff;font:bold 15px system-ui;text-shadow:0 0 3px #000;pointer-events:none}
.it-ol{left:4px;top:50%;transform:translateY(-50%)}.it-orr{right:16px;top:50%;transform:translateY(-50%)}
.it-ot{top:4px;left:50%;transform:translateX(-50%)}.it-ob{bottom:4px;left:50%;transform:translateX(-50%)}
.it-scroll{position:absolute;right:0;top:24px;bottom:24px;width:12px;background:rgba(255,255,255,0.06);cursor:ns-resize}
.it-thumb{position:absolute;left:2px;right:2px;height:14px;margin-top:-7px;border-radius:3px;background:rgba(120,180,255,0.7);pointer-events:none}
.it-info{padding:8px;white-space:pre-wrap;font:12px/1.4 ui-monospace,monospace;color:#ccc;overflow:auto}
.it-meas{font:12px/1.4 ui-monospace,monospace;color:#cfc;padding:2px 4px;white-space:pre-wrap}
`;

function clamp(v, lo, hi) { return v < lo ? lo : v > hi ? hi : v; }
function fmt(v, d) { return Number.isFinite(v) ? v.toFixed(d) : "–"; }
function typed(dtype, buffer) {
  switch (dtype) {
    case "int16": return new Int16Array(buffer);
    case "uint16": return new Uint16Array(buffer);
    case "uint8": return new Uint8Array(buffer);
    default: return new Float32Array(buffer);
  }
}
function bytesPer(dtype) { return dtype === "uint8" ? 1 : dtype === "float32" ? 4 : 2; }

// ---------------------------------------------------------------------------------------
// Volume: typed array filled slab by slab from the stream.
class Volume {
  constructor(spec) {
    this.spec = spec;
    this.key = spec.key;
    this.shape = spec.shape;
    this.spacing = spec.spacing;
    this.affine = spec.affine; // 4x4 rows: canonical voxel -> RAS mm
    this.dtype = spec.dtype;
    const [nx, ny, nz] = spec.shape;
    this.data = typed(spec.dtype, new ArrayBuffer(nx * ny * nz * bytesPer(spec.dtype)));
    this.loaded = new Uint8Array(nz);
    this.version = 0;
    this.complete = false;
    this.error = null;
    this.listeners = [];
  }
  load(startSlice) {
    const url = this.spec.url + "?k=" + Math.round(startSlice);
    const [nx, ny] = this.shape;
    const sliceBytes = nx * ny * bytesPer(this.dtype);
    const done = [];
    this.t0 = performance.now();
    this.controller = new AbortController();
    fetch(url, { cache: "no-store", signal: this.controller.signal }).then(async (resp) => {
      if (!resp.ok) { throw new Error("volume server answered " + resp.status); }
      this.tResponse = performance.now() - this.t0;
      const reader = resp.body.getReader();
      // received bytes not yet parsed, kept as a list of chunks (no quadratic copying)
      let parts = [], have = 0, need = 12, header = null;
      const take = (n) => {
        const out = new Uint8Array(n);
        let o = 0;
        while (o < n) {
          const p = parts[0], k = Math.min(p.length, n - o);
          out.set(p.subarray(0, k), o); o += k;
          if (k === p.length) { parts.shift(); } else { parts[0] = p.subarray(k); }
        }
        have -= n;
        return out;
      };
      for (;;) {
        const { value, done: end } = await reader.read();
        if (value) { parts.push(value); have += value.length; }
        while (have >= need) {
          if (!header) {
            const h = new DataView(take(12).buffer);
            header = [h.getUint32(0, true), h.getUint32(4, true)]; need = h.getUint32(8, true);
          } else {
            done.push(this.inflate(take(need), header[0], header[1], sliceBytes));
            header = null; need = 12;
          }
        }
        if (end) { break; }
      }
      await Promise.all(done);
      this.complete = true;
      this.tComplete = performance.now() - this.t0;
      this.notify();
    }).catch((err) => {
      if (err && err.name === "AbortError") { return; }
      this.error = String(err && err.message || err); this.notify();
    });
  }
  // stop receiving (another series replaced this one)
  close() { if (this.controller) { this.controller.abort(); } this.listeners = []; }
  async inflate(body, first, count, sliceBytes) {
    const stream = new Blob([body]).stream().pipeThrough(new DecompressionStream("gzip"));
    const raw = new Uint8Array(await new Response(stream).arrayBuffer());
    if (raw.length !== count * sliceBytes) { throw new Error("slab of unexpected size"); }
    // undo the byte shuffle: raw holds byte 0 of every value, then byte 1, ...
    const size = bytesPer(this.dtype), n = raw.length / size;
    const out = new Uint8Array(this.data.buffer, first * sliceBytes, raw.length);
    if (size === 1) { out.set(raw); }
    else {
      for (let b = 0; b < size; b++) {
        const plane = b * n;
        for (let v = 0, o = b; v < n; v++, o += size) { out[o] = raw[plane + v]; }
      }
    }
    for (let k = first; k < first + count; k++) { this.loaded[k] = 1; }
    if (this.tFirst === undefined) { this.tFirst = performance.now() - this.t0; }
    this.version++;
    this.notify();
  }
  notify() { for (const f of this.listeners) { f(); } }
  index(i, j, k) { return i + this.shape[0] * (j + this.shape[1] * k); }
  value(i, j, k) { return this.data[this.index(i, j, k)]; }
  world(ijk) {
    const a = this.affine;
    return [0, 1, 2].map((r) => a[r][0] * ijk[0] + a[r][1] * ijk[1] + a[r][2] * ijk[2] + a[r][3]);
  }
  // slice index along axis 2 whose world z is closest to z (for table-position linking)
  sliceAtZ(z) {
    const a = this.affine, nz = this.shape[2];
    const cx = (this.shape[0] - 1) / 2, cy = (this.shape[1] - 1) / 2;
    let best = 0, bestD = Infinity;
    for (let k = 0; k < nz; k++) {
      const wz = a[2][0] * cx + a[2][1] * cy + a[2][2] * k + a[2][3];
      const d = Math.abs(wz - z);
      if (d < bestD) { bestD = d; best = k; }
    }
    return best;
  }
}

// image geometry of a plane: size in pixels, mm per pixel, pixel <-> voxel maps
function planeGeom(vol, plane) {
  const [nx, ny, nz] = vol.shape, [dx, dy, dz] = vol.spacing;
  if (plane === "axial") {
    return { w: nx, h: ny, cmm: dx, rmm: dy,
      toVox: (c, r, s) => [nx - 1 - c, ny - 1 - r, s], toPix: (v) => [nx - 1 - v[0], ny - 1 - v[1]] };
  }
  if (plane === "coronal") {
    return { w: nx, h: nz, cmm: dx, rmm: dz,
      toVox: (c, r, s) => [nx - 1 - c, s, nz - 1 - r], toPix: (v) => [nx - 1 - v[0], nz - 1 - v[2]] };
  }
  return { w: ny, h: nz, cmm: dy, rmm: dz,
    toVox: (c, r, s) => [s, ny - 1 - c, nz - 1 - r], toPix: (v) => [ny - 1 - v[1], nz - 1 - v[2]] };
}

// ---------------------------------------------------------------------------------------
class View {
  constructor(engine, name, plane, which) {
    this.engine = engine; this.name = name; this.plane = plane; this.which = which;
    this.zoom = 1; this.panX = 0; this.panY = 0;
    const el = document.createElement("div");
    el.className = "it-view"; el.tabIndex = 0;
    el.dataset.view = name;
    el.setAttribute("role", "img");
    const canvas = document.createElement("canvas");
    el.appendChild(canvas);
    const mk = (cls) => { const d = document.createElement("div"); d.className = cls; el.appendChild(d); return d; };
    this.ann = { tl: mk("it-ann it-tl"), tr: mk("it-ann it-tr"), bl: mk("it-ann it-bl"), br: mk("it-ann it-br") };
    this.ori = { l: mk("it-or it-ol"), r: mk("it-or it-orr"), t: mk("it-or it-ot"), b: mk("it-or it-ob") };
    // a slice scroll bar on the right edge (top = last slice: superior, anterior or left)
    this.track = mk("it-scroll"); this.thumb = document.createElement("div");
    this.thumb.className = "it-thumb"; this.track.appendChild(this.thumb);
    this.track.setAttribute("role", "scrollbar"); this.track.setAttribute("aria-orientation", "vertical");
    this.el = el; this.canvas = canvas; this.ctx = canvas.getContext("2d");
    this.off = document.createElement("canvas"); this.offCtx = this.off.getContext("2d");
    this.offKey = ""; this.drag = null;
    this.bind();
  }
  vol() { return this.which === "compare" ? this.engine.cmp : this.engine.vol; }
  slice() {
    const e = this.engine, vol = this.vol();
    if (!vol) { return 0; }
    if (this.which === "compare") {
      const z = e.vol.world(e.cross)[2];
      return vol.sliceAtZ(z + e.compareOffset);
    }
    return e.cross[PLANES[this.plane].axis];
  }
  nSlices() { const vol = this.vol(); return vol ? vol.shape[PLANES[this.plane].axis] : 0; }
  layout() {
    const vol = this.vol();
    const W = this.el.clientWidth, H = this.el.clientHeight;
    const g = planeGeom(vol, this.plane);
    const wmm = g.w * g.cmm, hmm = g.h * g.rmm;
    const fit = Math.min(W / wmm, H / hmm);
    const s = fit * this.zoom;
    const ox = W / 2 - (wmm * s) / 2 + this.panX, oy = H / 2 - (hmm * s) / 2 + this.panY;
    return { g, W, H, ox, oy, sx: g.cmm * s, sy: g.rmm * s };
  }
  // CSS px inside the view -> continuous image coordinates (pixel centres at +0.5)
  toImage(x, y, L) { return [(x - L.ox) / L.sx, (y - L.oy) / L.sy]; }
  toScreen(u, v, L) { return [L.ox + u * L.sx, L.oy + v * L.sy]; }
  voxAt(x, y) {
    const L = this.layout(), [u, v] = this.toImage(x, y, L);
    const c = clamp(Math.floor(u), 0, L.g.w - 1), r = clamp(Math.floor(v), 0, L.g.h - 1);
    return L.g.toVox(c, r, this.slice());
  }
  bind() {
    const el = this.el, e = this.engine;
    const seek = (ev) => {
      const box = this.track.getBoundingClientRect(), n = this.nSlices();
      const f = clamp((ev.clientY - box.top) / Math.max(1, box.height), 0, 1);
      e.seek(this, Math.round((1 - f) * (n - 1)));
    };
    this.track.addEventListener("pointerdown", (ev) => {
      ev.stopPropagation(); ev.preventDefault(); e.setActive(this);
      this.track.setPointerCapture(ev.pointerId); this.seeking = true; seek(ev);
    });
    this.track.addEventListener("pointermove", (ev) => { if (this.seeking) { ev.stopPropagation(); seek(ev); } });
    this.track.addEventListener("pointerup", (ev) => { ev.stopPropagation(); this.seeking = false; });
    el.addEventListener("contextmenu", (ev) => ev.preventDefault());
    el.addEventListener("pointerenter", () => e.setActive(this));
    el.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      e.setActive(this);
      if (ev.ctrlKey || ev.metaKey) { this.zoomBy(Math.exp(-ev.deltaY * 0.002), ev.offsetX, ev.offsetY); return; }
      // one slice per notch: a mouse notch is one event; trackpad pixels accumulate
      let steps;
      if (ev.deltaMode !== 0 || Math.abs(ev.deltaY) >= 40) { steps = ev.deltaY > 0 ? -1 : ev.deltaY < 0 ? 1 : 0; }
      else {
        this.wheelAcc = (this.wheelAcc || 0) + ev.deltaY;
        steps = 0;
        while (this.wheelAcc >= 40) { steps -= 1; this.wheelAcc -= 40; }
        while (this.wheelAcc <= -40) { steps += 1; this.wheelAcc += 40; }
      }
      if (steps) { e.step(this, steps); }
    }, { passive: false });
    el.addEventListener("pointerdown", (ev) => {
      e.setActive(this); el.focus({ preventScroll: true });
      el.setPointerCapture(ev.pointerId);
      const L = this.layout();
      let mode = e.tool;
      if (ev.button === 1 || (ev.button === 0 && ev.shiftKey)) { mode = "pan"; }
      else if (ev.button === 2) { mode = "zoom"; }
      this.drag = { mode, x0: ev.offsetX, y0: ev.offsetY, x: ev.offsetX, y: ev.offsetY, moved: false,
        w0: e.window.w, l0: e.window.l, zoom0: this.zoom, pan0: [this.panX, this.panY],
        pts: [this.toImage(ev.offsetX, ev.offsetY, L)], button: ev.button };
    });
    el.addEventListener("pointermove", (ev) => {
      const d = this.drag;
      if (!d) { e.hover(this, ev.offsetX, ev.offsetY); return; }
      d.x = ev.offsetX; d.y = ev.offsetY;
      const dx = d.x - d.x0, dy = d.y - d.y0;
      if (Math.abs(dx) + Math.abs(dy) > 3) { d.moved = true; }
      if (!d.moved) { return; }
      if (d.mode === "wl") {
        const f = Math.max(d.w0, 10) / 150;
        e.setWindow(Math.max(1, d.w0 + dx * f), d.l0 + dy * f, "custom");
      } else if (d.mode === "pan") {
        this.panX = d.pan0[0] + dx; this.panY = d.pan0[1] + dy; e.invalidate();
      } else if (d.mode === "zoom") {
        this.zoom = clamp(d.zoom0 * Math.exp(-dy * 0.01), 0.25, 20); e.invalidate();
      } else if (d.mode === "freehand") {
        d.pts.push(this.toImage(d.x, d.y, this.layout())); e.invalidate();
      } else { e.invalidate(); }
    });
    const finish = (ev) => {
      const d = this.drag; this.drag = null;
      if (!d) { return; }
      const L = this.layout();
      if (!d.moved && d.button === 0) {
        if (d.mode === "seed") { e.seed(this, this.voxAt(d.x0, d.y0)); return; }
        if (["wl", "pan", "zoom"].includes(d.mode)) { e.point(this, this.voxAt(d.x0, d.y0)); return; }
      }
      if (d.moved && ["distance", "ellipse", "freehand"].includes(d.mode)) {
        const a = d.pts[0], b = this.toImage(d.x, d.y, L);
        const pts = d.mode === "freehand" ? d.pts : [a, b];
        e.addMeasurement(this, d.mode, pts);
      }
      e.invalidate();
    };
    el.addEventListener("pointerup", finish);
    el.addEventListener("pointercancel", () => { this.drag = null; e.invalidate(); });
    el.addEventListener("dblclick", () => e.toggleSingle(this));
  }
  zoomBy(f, x, y) {
    const L = this.layout();
    const nz = clamp(this.zoom * f, 0.25, 20), k = nz / this.zoom;
    // keep the point under the cursor fixed
    this.panX = (this.panX - (x - L.W / 2)) * k + (x - L.W / 2);
    this.panY = (this.panY - (y - L.H / 2)) * k + (y - L.H / 2);
    this.zoom = nz; this.engine.invalidate();
  }
  resetView() { this.zoom = 1; this.panX = 0; this.panY = 0; }
  sliceImage(L, slice) {
    const e = this.engine, vol = this.vol(), g = L.g;
    const key = [vol.key, vol.version, this.plane, slice, e.window.w, e.window.l].join("|");
    if (key === this.offKey) { return; }
    this.offKey = key;
    if (this.off.width !== g.w || this.off.height !== g.h) { this.off.width = g.w; this.off.height = g.h; }
    const img = this.offCtx.createImageData(g.w, g.h);
    const out = new Uint32Array(img.data.buffer);
    const data = vol.data, [nx, ny, nz] = vol.shape, lut = e.lutFor(vol);
    const plane = this.plane;
    // strides in the source for screen column and row steps
    let base, dc, dr;
    if (plane === "axial") { base = vol.index(nx - 1, ny - 1, slice); dc = -1; dr = -nx; }
    else if (plane === "coronal") { base = vol.index(nx - 1, slice, nz - 1); dc = -1; dr = -nx * ny; }
    else { base = vol.index(slice, ny - 1, nz - 1); dc = -nx; dr = -nx * ny; }
    let o = 0;
    if (lut.table) {
      const t = lut.table, off = lut.offset;
      for (let r = 0; r < g.h; r++) {
        let s = base + r * dr;
        for (let c = 0; c < g.w; c++, s += dc) { out[o++] = t[data[s] + off]; }
      }
    } else {
      const lo = lut.lo, sc = lut.scale;
      for (let r = 0; r < g.h; r++) {
        let s = base + r * dr;
        for (let c = 0; c < g.w; c++, s += dc) {
          let v = (data[s] - lo) * sc; v = v < 0 ? 0 : v > 255 ? 255 : v | 0;
          out[o++] = 0xff000000 | (v << 16) | (v << 8) | v;
        }
      }
    }
    this.offCtx.putImageData(img, 0, 0);
    this.overlayKey = "";
  }
  overlayImage(L, slice) {
    const e = this.engine, ov = e.overlay;
    if (!ov || this.which !== "main") { this.overlayShown = "none"; return null; }
    if (!e.showOverlay) { this.overlayShown = "hidden"; return null; }
    if (ov.volume.key === undefined) { this.overlayShown = "none"; return null; }
    const key = [ov.volume.version, this.plane, slice].join("|");
    if (!this.ovCanvas) { this.ovCanvas = document.createElement("canvas"); }
    const g = L.g, cv = this.ovCanvas;
    if (key !== this.overlayKey) {
      this.overlayKey = key;
      cv.width = g.w; cv.height = g.h;
      const ctx = cv.getContext("2d"), img = ctx.createImageData(g.w, g.h);
      const out = new Uint32Array(img.data.buffer), data = ov.volume.data;
      const color = ov.color;
      let o = 0, lit = 0;
      for (let r = 0; r < g.h; r++) {
        for (let c = 0; c < g.w; c++) {
          const v = g.toVox(c, r, slice);
          const on = data[ov.volume.index(v[0], v[1], v[2])];
          out[o++] = on ? color : 0;
          if (on) { lit++; }
        }
      }
      ctx.putImageData(img, 0, 0);
      this.overlayLit = String(lit);
    }
    // the DOM contract: "none", "hidden" (toggled off) or the overlay pixels on this image
    this.overlayShown = ov.volume.complete ? this.overlayLit : "loading";
    return cv;
  }
  draw() {
    const e = this.engine, vol = this.vol(), el = this.el;
    const dpr = window.devicePixelRatio || 1;
    const W = el.clientWidth, H = el.clientHeight;
    if (this.canvas.width !== Math.round(W * dpr) || this.canvas.height !== Math.round(H * dpr)) {
      this.canvas.width = Math.round(W * dpr); this.canvas.height = Math.round(H * dpr);
    }
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, W, H);
    if (!vol) { return; }
    const L = this.layout(), slice = this.slice(), n = this.nSlices();
    const ready = this.plane === "axial" ? vol.loaded[slice] : vol.complete;
    if (ready || this.plane !== "axial") {
      this.sliceImage(L, slice);
      ctx.imageSmoothingEnabled = e.smooth;
      ctx.drawImage(this.off, 0, 0, L.g.w, L.g.h, L.ox, L.oy, L.g.w * L.sx, L.g.h * L.sy);
      const ov = this.overlayImage(L, slice);
      if (ov) {
        ctx.imageSmoothingEnabled = false; ctx.globalAlpha = 0.45;
        ctx.drawImage(ov, 0, 0, L.g.w, L.g.h, L.ox, L.oy, L.g.w * L.sx, L.g.h * L.sy);
        ctx.globalAlpha = 1;
      }
    }
    if (!ready) {
      ctx.fillStyle = "#aaa"; ctx.font = "14px system-ui";
      ctx.fillText(vol.error ? "Could not load: " + vol.error : "Loading…", 12, H / 2);
    }
    if (this.which === "main") { this.drawCross(ctx, L, slice); this.drawMarkers(ctx, L, slice); }
    this.drawMeasurements(ctx, L, slice);
    this.annotate(L, slice, n, !!ready);
  }
  drawCross(ctx, L, slice) {
    const e = this.engine;
    if (!e.showCross || e.layoutName() === "1x1") { return; }
    const [u, v] = L.g.toPix(e.cross);
    const [x, y] = this.toScreen(u + 0.5, v + 0.5, L);
    ctx.strokeStyle = "rgba(255,200,0,0.75)"; ctx.lineWidth = 1; ctx.beginPath();
    const gap = 10;
    ctx.moveTo(0, y); ctx.lineTo(x - gap, y); ctx.moveTo(x + gap, y); ctx.lineTo(L.W, y);
    ctx.moveTo(x, 0); ctx.lineTo(x, y - gap); ctx.moveTo(x, y + gap); ctx.lineTo(x, L.H);
    ctx.stroke();
  }
  drawMarkers(ctx, L, slice) {
    const e = this.engine, axis = PLANES[this.plane].axis;
    if (!e.showMarkers) { return; }
    ctx.lineWidth = 2; ctx.font = "bold 12px system-ui";
    for (const m of e.markers) {
      if (Math.abs(m.ijk[axis] - slice) > 1) { continue; }
      const [u, v] = L.g.toPix(m.ijk);
      const [x, y] = this.toScreen(u + 0.5, v + 0.5, L);
      ctx.strokeStyle = "#ff4040"; ctx.beginPath(); ctx.arc(x, y, 8, 0, 2 * Math.PI); ctx.stroke();
      ctx.fillStyle = "#ff8080"; ctx.fillText(m.label, x + 10, y - 10);
    }
  }
  drawMeasurements(ctx, L, slice) {
    const e = this.engine;
    const shapes = e.measurements.filter((m) => m.view === this.name && m.slice === slice);
    const d = this.drag;
    if (d && d.moved && ["distance", "ellipse", "freehand"].includes(d.mode)) {
      const b = this.toImage(d.x, d.y, L);
      shapes.push({ kind: d.mode, pts: d.mode === "freehand" ? d.pts : [d.pts[0], b], text: "" });
    }
    ctx.lineWidth = 1.5; ctx.font = "12px system-ui";
    for (const m of shapes) {
      const p = m.pts.map((q) => this.toScreen(q[0], q[1], L));
      ctx.strokeStyle = "#40ff80"; ctx.fillStyle = "#b0ffc8"; ctx.beginPath();
      if (m.kind === "distance") { ctx.moveTo(p[0][0], p[0][1]); ctx.lineTo(p[1][0], p[1][1]); }
      else if (m.kind === "ellipse") {
        const cx = (p[0][0] + p[1][0]) / 2, cy = (p[0][1] + p[1][1]) / 2;
        ctx.ellipse(cx, cy, Math.abs(p[1][0] - p[0][0]) / 2, Math.abs(p[1][1] - p[0][1]) / 2, 0, 0, 2 * Math.PI);
      } else { p.forEach((q, n) => (n ? ctx.lineTo(q[0], q[1]) : ctx.moveTo(q[0], q[1]))); ctx.closePath(); }
      ctx.stroke();
      if (m.text) { ctx.fillText(m.text, p[p.length - 1][0] + 6, p[p.length - 1][1] + 14); }
    }
  }
  annotate(L, slice, n, ready) {
    const e = this.engine, vol = this.vol(), el = this.el;
    const labels = PLANES[this.plane].labels;
    this.ori.l.textContent = labels[0]; this.ori.r.textContent = labels[1];
    this.ori.t.textContent = labels[2]; this.ori.b.textContent = labels[3];
    const title = this.which === "compare" ? (e.cmpSpec.label || "comparison") : (vol.spec.label || "");
    this.ann.tl.textContent = `${title}\n${this.plane} Im ${slice + 1}/${n}`;
    this.ann.tr.textContent = `W ${fmt(e.window.w, 0)} L ${fmt(e.window.l, 0)}${vol.spec.unit ? " " + vol.spec.unit : ""}`;
    this.ann.bl.textContent = `Zoom ${this.zoom.toFixed(2)}×  ${fmt(L.g.cmm, 2)}×${fmt(L.g.rmm, 2)} mm`;
    const z = vol.world(this.which === "compare" ? [vol.shape[0] / 2, vol.shape[1] / 2, slice] : e.cross)[2];
    this.ann.br.textContent = this.plane === "axial" ? `z ${fmt(z, 1)} mm` : "";
    const win = `${fmt(e.window.w, 0)}/${fmt(e.window.l, 0)}`;
    const set = (k, v) => { if (el.dataset[k] !== v) { el.dataset[k] = v; } };
    set("slice", String(slice)); set("slices", String(n)); set("window", win);
    set("series", vol.key); set("zoom", this.zoom.toFixed(3)); set("plane", this.plane);
    set("origin", `${L.ox.toFixed(2)},${L.oy.toFixed(2)}`); set("scale", `${L.sx.toFixed(5)},${L.sy.toFixed(5)}`);
    set("loaded", vol.complete ? "true" : "false"); set("ready", ready ? "true" : "false");
    set("overlay", this.overlayShown || "none");
    this.thumb.style.top = `${(1 - slice / Math.max(1, n - 1)) * 100}%`;
    this.track.setAttribute("aria-valuenow", String(slice + 1)); this.track.setAttribute("aria-valuemax", String(n));
    el.setAttribute("aria-label", `${this.name} view, slice ${slice + 1} of ${n}, window ${win}`);
  }
}

// ---------------------------------------------------------------------------------------
class Engine {
  constructor(root) {
    this.root = root;
    const style = document.createElement("style"); style.textContent = STYLE; root.appendChild(style);
    this.bar = document.createElement("div"); this.bar.className = "it-bar"; root.appendChild(this.bar);
    this.grid = document.createElement("div"); this.grid.className = "it-grid"; root.appendChild(this.grid);
    this.measEl = document.createElement("div"); this.measEl.className = "it-meas"; root.appendChild(this.measEl);
    this.info = document.createElement("div"); this.info.className = "it-info";
    this.vol = null; this.cmp = null; this.cmpSpec = null; this.overlay = null;
    this.cross = [0, 0, 0]; this.window = { w: 80, l: 40 }; this.windowName = "";
    this.tool = "wl"; this.layout = "1x1"; this.mainPlane = "axial"; this.compare = false;
    this.compareOffset = 0;
    this.smooth = true; this.showCross = true; this.showMarkers = true; this.showOverlay = true;
    this.markers = []; this.measurements = []; this.lastCommand = null; this.measureId = 0;
    this.views = {}; this.active = null; this.pending = false; this.cine = null;
    this.luts = new Map();
    this.tMount = performance.now();
    window.addEventListener("resize", () => this.relayout());
    Engine.all.add(this);
    Engine.installKeys();
  }
  static installKeys() {
    if (window.__itEngineKeys) { return; }
    window.__itEngineKeys = true;
    document.addEventListener("keydown", (ev) => {
      const t = ev.target;
      if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
      if (t && t.closest && t.closest("input, textarea, select, [contenteditable=true], [role=slider], [role=combobox]")) { return; }
      for (const eng of Engine.all) {
        if (!eng.root.isConnected) { Engine.all.delete(eng); continue; }
        if (eng.onKey(ev)) { ev.preventDefault(); ev.stopPropagation(); return; }
      }
    }, true);
  }
  // -- data from Python ----------------------------------------------------------------
  update(data) {
    this.spec = data;
    if (!this.vol || this.vol.key !== data.series.key || this.vol.spec.url !== data.series.url) {
      const v = data.view || {};
      if (this.vol) { this.vol.close(); }
      this.vol = new Volume(data.series);
      this.vol.listeners.push(() => this.invalidate());
      const [nx, ny, nz] = data.series.shape;
      const c = v.ijk && v.ijk.length === 3 ? v.ijk : [nx >> 1, ny >> 1, nz >> 1];
      this.cross = [clamp(c[0] | 0, 0, nx - 1), clamp(c[1] | 0, 0, ny - 1), clamp(c[2] | 0, 0, nz - 1)];
      const w = v.window || data.series.window;
      this.window = { w: w.w, l: w.l }; this.windowName = v.windowName || data.series.windowName || "";
      this.defaultWindow = data.series.window;
      if (v.layout) { this.layout = v.layout; }
      if (v.plane) { this.mainPlane = v.plane; }
      this.measurements = []; this.luts.clear();
      this.vol.load(this.cross[2]);
      for (const view of Object.values(this.views)) { view.resetView(); }
      if (v.zoom) { this.pendingZoom = v.zoom; }
      this.lastCommand = data.command ? data.command.id : null;
    }
    if (data.compare && (!this.cmp || this.cmp.spec.url !== data.compare.url)) {
      if (this.cmp) { this.cmp.close(); }
      this.cmpSpec = data.compare; this.cmp = new Volume(data.compare);
      this.cmp.listeners.push(() => this.invalidate());
      this.cmp.load(this.cmp.sliceAtZ(this.vol.world(this.cross)[2]));
      this.compare = true;
    } else if (!data.compare) {
      if (this.cmp) { this.cmp.close(); }
      this.cmp = null; this.cmpSpec = null; this.compare = false;
    }
    const ov = data.overlay;
    if (ov && (!this.overlay || this.overlay.spec.url !== ov.url)) {
      if (this.overlay) { this.overlay.volume.close(); }
      const vol = new Volume(ov); vol.listeners.push(() => this.invalidate()); vol.load(this.cross[2]);
      this.overlay = { spec: ov, volume: vol, color: ov.color || 0xff3050ff };
    } else if (!ov) { this.overlay = null; }
    this.markers = data.markers || [];
    if (data.command && data.command.id !== this.lastCommand) {
      this.lastCommand = data.command.id;
      if (data.command.ijk) { this.setCross(data.command.ijk); }
    }
    this.presets = data.series.presets || [];
    this.buildBar();
    this.relayout();
  }
  // -- layout ---------------------------------------------------------------------------
  layoutName() { return this.compare ? "compare" : this.layout; }
  relayout() {
    const want = this.layoutName();
    const names = want === "compare" ? [["axial", "axial", "main"], ["compare-axial", "axial", "compare"]]
      : want === "1x1" ? [[this.mainPlane, this.mainPlane, "main"]]
      : [["axial", "axial", "main"], ["coronal", "coronal", "main"], ["sagittal", "sagittal", "main"]];
    const key = want + names.map((n) => n[0]).join(",");
    const width = this.root.clientWidth || 800;
    // fill the window below the engine's top (as laid out when the page is scrolled to the top)
    const top = this.root.getBoundingClientRect().top + window.scrollY;
    const avail = Math.max(360, Math.min(window.innerHeight - top, 1400) - this.bar.offsetHeight - 16);
    let cols = 1, rows = 1, height = avail;
    if (want === "compare") { cols = 2; height = Math.min(avail, width / 2 * 1.05); }
    else if (want === "1x3") { cols = 3; height = Math.min(avail, width / 3 * 1.15); }
    else if (want === "2x2") { cols = 2; rows = 2; height = avail; }
    if (this.gridKey !== key) {
      this.gridKey = key;
      this.grid.replaceChildren();
      const keep = {};
      for (const [name, plane, which] of names) {
        const v = this.views[name] && this.views[name].plane === plane ? this.views[name] : new View(this, name, plane, which);
        keep[name] = v; this.grid.appendChild(v.el);
      }
      if (want === "2x2") { this.grid.appendChild(this.info); }
      this.views = keep;
      if (!this.active || !keep[this.active.name]) { this.active = Object.values(keep)[0]; }
      if (this.pendingZoom) { for (const v of Object.values(keep)) { v.zoom = this.pendingZoom; } this.pendingZoom = null; }
    }
    this.grid.style.gridTemplateColumns = `repeat(${cols}, 1fr)`;
    this.grid.style.gridTemplateRows = `repeat(${rows}, ${Math.floor(height / rows)}px)`;
    for (const v of Object.values(this.views)) { v.el.dataset.active = String(v === this.active); }
    this.invalidate();
  }
  buildBar() {
    const sig = JSON.stringify([this.tool, this.layout, this.mainPlane, this.compare, this.windowName,
      this.presets.map((p) => p.name), this.showOverlay, this.showMarkers, !!this.cine, !!this.overlay]);
    if (sig === this.barSig) { return; }
    this.barSig = sig;
    const bar = this.bar; bar.replaceChildren();
    const btn = (label, title, pressed, fn, attrs) => {
      const b = document.createElement("button"); b.type = "button"; b.textContent = label; b.title = title;
      b.setAttribute("aria-pressed", String(!!pressed));
      for (const [k, v] of Object.entries(attrs || {})) { b.dataset[k] = v; }
      b.addEventListener("click", () => { fn(); b.blur(); if (this.active) { this.active.el.focus({ preventScroll: true }); } this.buildBar(); });
      bar.appendChild(b); return b;
    };
    const sep = () => { const s = document.createElement("span"); s.className = "it-sep"; bar.appendChild(s); };
    for (const [name, label] of [["1x1", "1×1"], ["1x3", "1×3"], ["2x2", "2×2"]]) {
      btn(label, `Layout ${label} (key l cycles)`, this.layout === name && !this.compare, () => { this.compare = false; this.setLayout(name); }, { layout: name });
    }
    if (this.cmp) { btn("Compare", "Side by side with the earlier/later study, linked by table position", this.compare, () => { this.compare = !this.compare; this.relayout(); }, { layout: "compare" }); }
    sep();
    for (const [name, label, title] of TOOLS) { btn(label, title, this.tool === name, () => { this.tool = name; }, { tool: name }); }
    sep();
    this.presets.forEach((p, n) => btn(`${n + 1} ${p.name}`, `Window ${p.name}: W ${p.w} / L ${p.l} (key ${n + 1})`, this.windowName === p.name, () => this.applyPreset(n), { preset: p.name }));
    btn("Reset", "Reset zoom, pan and window (key 0 or r)", false, () => this.reset(), { action: "reset" });
    sep();
    btn(this.cine ? "Stop" : "Cine", "Play through the slices (key p)", !!this.cine, () => this.toggleCine(), { action: "cine" });
    btn("Markers", "Show finding markers (key m)", this.showMarkers, () => { this.showMarkers = !this.showMarkers; this.invalidate(); }, { action: "markers" });
    if (this.overlay) { btn("Overlay", "Show the overlay (key o)", this.showOverlay, () => { this.showOverlay = !this.showOverlay; this.invalidate(); }, { action: "overlay" }); }
  }
  setLayout(name) { this.layout = name; this.relayout(); this.saveUrl(); }
  toggleSingle(view) {
    if (this.compare) { return; }
    if (this.layout === "1x1") { this.layout = this.prevLayout || "1x3"; }
    else { this.prevLayout = this.layout; this.layout = "1x1"; this.mainPlane = view.plane; }
    this.relayout(); this.buildBar(); this.saveUrl();
  }
  setActive(view) {
    if (this.active === view) { return; }
    this.active = view;
    for (const v of Object.values(this.views)) { v.el.dataset.active = String(v === view); }
  }
  // -- state changes --------------------------------------------------------------------
  setCross(ijk) {
    const [nx, ny, nz] = this.vol.shape;
    this.cross = [clamp(Math.round(ijk[0]), 0, nx - 1), clamp(Math.round(ijk[1]), 0, ny - 1), clamp(Math.round(ijk[2]), 0, nz - 1)];
    this.invalidate(); this.saveUrl();
  }
  step(view, n) {
    const v = view || this.active || Object.values(this.views)[0];
    const axis = PLANES[v.plane].axis, max = this.vol.shape[axis] - 1;
    const c = this.cross.slice(); c[axis] = clamp(c[axis] + n, 0, max);
    this.cross = c; this.invalidate(); this.saveUrl();
  }
  seek(view, index) {
    const v = view || this.active;
    if (v.which === "compare") { return; }
    const axis = PLANES[v.plane].axis;
    const c = this.cross.slice(); c[axis] = clamp(index, 0, this.vol.shape[axis] - 1);
    this.cross = c; this.invalidate(); this.saveUrl();
  }
  jump(view, where) {
    const v = view || this.active, axis = PLANES[v.plane].axis;
    const c = this.cross.slice(); c[axis] = where < 0 ? 0 : this.vol.shape[axis] - 1;
    this.cross = c; this.invalidate(); this.saveUrl();
  }
  setWindow(w, l, name) {
    this.window = { w: Math.max(1, w), l }; this.windowName = name || "";
    this.invalidate(); this.saveUrl(); this.buildBar();
  }
  applyPreset(n) {
    const p = this.presets[n];
    if (p) { this.setWindow(p.w, p.l, p.name); }
  }
  reset() {
    for (const v of Object.values(this.views)) { v.resetView(); }
    const d = this.defaultWindow; this.setWindow(d.w, d.l, this.spec.series.windowName || "");
  }
  toggleCine() {
    if (this.cine) { clearInterval(this.cine); this.cine = null; }
    else {
      const v = this.active || Object.values(this.views)[0];
      this.cine = setInterval(() => {
        const axis = PLANES[v.plane].axis, n = this.vol.shape[axis];
        const c = this.cross.slice(); c[axis] = (c[axis] + 1) % n; this.cross = c; this.invalidate();
      }, 1000 / 15);
    }
    this.buildBar();
  }
  lutFor(vol) {
    const key = vol.dtype + "|" + this.window.w + "|" + this.window.l;
    let lut = this.luts.get(key);
    if (lut) { return lut; }
    const lo = this.window.l - this.window.w / 2, scale = 255 / this.window.w;
    if (vol.dtype === "float32") { lut = { lo, scale }; }
    else {
      const offset = vol.dtype === "int16" ? 32768 : 0, size = vol.dtype === "uint8" ? 256 : 65536;
      const table = new Uint32Array(size);
      for (let n = 0; n < size; n++) {
        let g = (n - offset - lo) * scale; g = g < 0 ? 0 : g > 255 ? 255 : g | 0;
        table[n] = 0xff000000 | (g << 16) | (g << 8) | g;
      }
      lut = { table, offset };
    }
    if (this.luts.size > 8) { this.luts.clear(); }
    this.luts.set(key, lut);
    return lut;
  }
  invalidate() {
    if (this.pending) { return; }
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }
  draw() {
    for (const v of Object.values(this.views)) { v.draw(); }
    this.drawInfo();
  }
  drawInfo() {
    const vol = this.vol;
    if (!vol) { return; }
    const xyz = vol.world(this.cross);
    const value = vol.complete || vol.loaded[this.cross[2]] ? vol.value(...this.cross) : NaN;
    const text = `Crosshair voxel (${this.cross.join(", ")})\nRAS (${xyz.map((v) => fmt(v, 1)).join(", ")}) mm\n` +
      `Value ${fmt(value, 0)}${vol.spec.unit ? " " + vol.spec.unit : ""}` +
      (this.hoverText ? `\nUnder the cursor: ${this.hoverText}` : "");
    this.info.textContent = text;
    this.root.dataset.cross = this.cross.join(",");
    this.root.dataset.timing = `mount=${fmt(this.tMount, 0)} response=${fmt(vol.tResponse, 0)} ` +
      `first=${fmt(vol.tFirst, 0)} complete=${fmt(vol.tComplete, 0)}`;
    this.measEl.textContent = this.measurements.map((m) => `#${m.id} ${m.view} Im ${m.slice + 1}: ${m.text}`).join("\n");
  }
  hover(view, x, y) {
    if (!view.vol() || !view.vol().complete) { return; }
    const v = view.voxAt(x, y), vol = view.vol();
    this.hoverText = `(${v.join(", ")}) ${fmt(vol.value(...v), 0)}${vol.spec.unit ? " " + vol.spec.unit : ""}`;
    if (this.layoutName() === "2x2") { this.drawInfo(); }
  }
  // -- events to Python ------------------------------------------------------------------
  emit(name, payload) {
    if (this.send) { this.send(name, { ...payload, series: this.vol.key, nonce: Date.now() + Math.random() }); }
  }
  point(view, ijk) {
    if (view.which === "compare") { return; }
    this.setCross(ijk);
    this.emit("point", { ijk: this.cross });
  }
  seed(view, ijk) {
    if (view.which === "compare") { return; }
    this.setCross(ijk);
    this.emit("seed", { ijk: this.cross });
  }
  addMeasurement(view, kind, imgPts) {
    const vol = view.vol(), L = view.layout(), g = L.g, slice = view.slice();
    const vox = imgPts.map((p) => g.toVox(p[0] - 0.5, p[1] - 0.5, slice));
    let text = "";
    if (kind === "distance") {
      const [a, b] = imgPts;
      const mm = Math.hypot((b[0] - a[0]) * g.cmm, (b[1] - a[1]) * g.rmm);
      text = `${fmt(mm, 1)} mm`;
    } else {
      const st = this.roiStats(vol, view.plane, slice, kind, imgPts, g);
      text = st.n ? `mean ${fmt(st.mean, 1)} SD ${fmt(st.sd, 1)} min ${fmt(st.min, 0)} max ${fmt(st.max, 0)}${vol.spec.unit ? " " + vol.spec.unit : ""}, ${fmt(st.area, 1)} mm²` : "empty ROI";
    }
    const m = { id: ++this.measureId, view: view.name, plane: view.plane, slice, kind, pts: imgPts, text };
    this.measurements.push(m);
    this.invalidate();
    if (view.which === "main") { this.emit("measure", { id: m.id, kind, plane: view.plane, slice, points: vox, text }); }
  }
  roiStats(vol, plane, slice, kind, pts, g) {
    let inside;
    if (kind === "ellipse") {
      const cx = (pts[0][0] + pts[1][0]) / 2, cy = (pts[0][1] + pts[1][1]) / 2;
      const rx = Math.abs(pts[1][0] - pts[0][0]) / 2, ry = Math.abs(pts[1][1] - pts[0][1]) / 2;
      inside = (u, v) => rx > 0 && ry > 0 && ((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 <= 1;
    } else {
      inside = (u, v) => {
        let hit = false;
        for (let a = 0, b = pts.length - 1; a < pts.length; b = a++) {
          const [xa, ya] = pts[a], [xb, yb] = pts[b];
          if ((ya > v) !== (yb > v) && u < ((xb - xa) * (v - ya)) / (yb - ya) + xa) { hit = !hit; }
        }
        return hit;
      };
    }
    const us = pts.map((p) => p[0]), vs = pts.map((p) => p[1]);
    const c0 = clamp(Math.floor(Math.min(...us)), 0, g.w - 1), c1 = clamp(Math.ceil(Math.max(...us)), 0, g.w - 1);
    const r0 = clamp(Math.floor(Math.min(...vs)), 0, g.h - 1), r1 = clamp(Math.ceil(Math.max(...vs)), 0, g.h - 1);
    let n = 0, sum = 0, sum2 = 0, mn = Infinity, mx = -Infinity;
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        if (!inside(c + 0.5, r + 0.5)) { continue; }
        const v = g.toVox(c, r, slice), x = vol.value(v[0], v[1], v[2]);
        n++; sum += x; sum2 += x * x; if (x < mn) { mn = x; } if (x > mx) { mx = x; }
      }
    }
    const mean = n ? sum / n : NaN;
    const sd = n > 1 ? Math.sqrt(Math.max(0, (sum2 - n * mean * mean) / (n - 1))) : 0;
    return { n, mean, sd, min: mn, max: mx, area: n * g.cmm * g.rmm };
  }
  // -- keys -------------------------------------------------------------------------------
  onKey(ev) {
    if (!this.vol) { return false; }
    const v = this.active || Object.values(this.views)[0];
    const k = ev.key;
    if (k === "ArrowUp" || k === "k") { this.step(v, 1); return true; }
    if (k === "ArrowDown" || k === "j") { this.step(v, -1); return true; }
    if (k === "PageUp") { this.step(v, 10); return true; }
    if (k === "PageDown") { this.step(v, -10); return true; }
    if (k === "Home") { this.jump(v, -1); return true; }
    if (k === "End") { this.jump(v, 1); return true; }
    if (/^[1-9]$/.test(k) && this.presets[Number(k) - 1]) { this.applyPreset(Number(k) - 1); return true; }
    if (k === "0" || k === "r") { this.reset(); return true; }
    if (k === "+" || k === "=") { v.zoomBy(1.25, v.el.clientWidth / 2, v.el.clientHeight / 2); return true; }
    if (k === "-") { v.zoomBy(0.8, v.el.clientWidth / 2, v.el.clientHeight / 2); return true; }
    if (k === "l") { const order = ["1x1", "1x3", "2x2"]; this.compare = false; this.setLayout(order[(order.indexOf(this.layout) + 1) % 3]); this.buildBar(); return true; }
    if (k === "a" || k === "c" || k === "s") {
      this.mainPlane = { a: "axial", c: "coronal", s: "sagittal" }[k]; this.compare = false; this.setLayout("1x1"); this.buildBar(); return true;
    }
    if (k === "p") { this.toggleCine(); return true; }
    if (k === "m") { this.showMarkers = !this.showMarkers; this.invalidate(); this.buildBar(); return true; }
    if (k === "o") { this.showOverlay = !this.showOverlay; this.invalidate(); this.buildBar(); return true; }
    if (k === "Escape") { this.tool = "wl"; for (const x of Object.values(this.views)) { x.drag = null; } this.buildBar(); this.invalidate(); return true; }
    const tools = { w: "wl", d: "distance", e: "ellipse", f: "freehand", g: "seed" };
    if (tools[k]) { this.tool = tools[k]; this.buildBar(); return true; }
    return false;
  }
  // -- the address bar keeps the view (reload or a shared link restores it) -------------
  saveUrl() {
    clearTimeout(this.urlTimer);
    this.urlTimer = setTimeout(() => {
      const url = new URL(window.location.href), p = url.searchParams;
      p.set("series", this.vol.key); p.set("layout", this.layout); p.set("plane", this.mainPlane);
      p.set("ijk", this.cross.join(",")); p.set("wl", `${Math.round(this.window.w)},${Math.round(this.window.l)}`);
      if (this.windowName) { p.set("wn", this.windowName); } else { p.delete("wn"); }
      const z = this.active ? this.active.zoom : 1;
      p.set("zoom", z.toFixed(2));
      window.history.replaceState(window.history.state, "", url.toString());
    }, 250);
  }
}
Engine.all = new Set();

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  let root = parentElement.querySelector(".it-engine");
  if (!root) {
    root = document.createElement("div"); root.className = "it-engine";
    root.setAttribute("role", "application"); root.setAttribute("aria-label", "image viewer");
    parentElement.appendChild(root);
  }
  if (!root.__engine) { root.__engine = new Engine(root); }
  root.__engine.send = setTriggerValue;
  root.__engine.update(data);
}
