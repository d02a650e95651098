// Chapter 5: precomputed feature maps (uint8 per channel, with each channel's
// min and max), drawn in the page as the chosen layer's channel grid or one
// channel large. fmSelect() computes what is shown (and its statistics, from
// the dequantised values); the drawing and data-values both come from it.
// Its own names start with "fm", as the other explorers' do (convDraw, poolCompute).

// viridis, 9 stops (matplotlib), interpolated into a 256-entry table
const FM_VIRIDIS = (() => {
  const stops = [[0.267, 0.005, 0.329], [0.279, 0.175, 0.483], [0.23, 0.322, 0.546],
    [0.173, 0.449, 0.558], [0.128, 0.567, 0.551], [0.158, 0.684, 0.502],
    [0.369, 0.789, 0.383], [0.678, 0.864, 0.19], [0.993, 0.906, 0.144]];
  const lut = new Uint8ClampedArray(256 * 3);
  for (let q = 0; q < 256; q++) {
    const f = (q / 255) * (stops.length - 1), i = Math.min(Math.floor(f), stops.length - 2), t = f - i;
    for (let k = 0; k < 3; k++) lut[3 * q + k] = Math.round(255 * (stops[i][k] + t * (stops[i + 1][k] - stops[i][k])));
  }
  return lut;
})();

function fmColour(q) {
  return [FM_VIRIDIS[3 * q], FM_VIRIDIS[3 * q + 1], FM_VIRIDIS[3 * q + 2]];
}

function fmSelect(layers, data, layerName, channel, view) {
  const d = layers.find((l) => l.name === layerName) || layers[0];
  const c = Math.max(0, Math.min(channel, d.c - 1));
  const hw = d.h * d.w;
  const q = data.subarray(d.offset + c * hw, d.offset + (c + 1) * hw);
  const lo = d.min[c], hi = d.max[c], scale = (hi - lo) / 255;
  let sum = 0, qmin = 255, qmax = 0;
  for (let i = 0; i < hw; i++) { sum += q[i]; if (q[i] < qmin) qmin = q[i]; if (q[i] > qmax) qmax = q[i]; }
  return {
    layer: d.name, channel: c, requested_channel: channel, view,
    shape: [d.h, d.w, d.c], min: lo + qmin * scale, max: lo + qmax * scale,
    mean: lo + (sum / hw) * scale, meta: d,
  };
}

function fmPaint(ctx, data, d, c, x, y, size) {
  // channel c of layer d, colour-mapped on its own scale, in a size-px box
  const hw = d.h * d.w, base = d.offset + c * hw;
  const off = valuesCanvas(data.subarray(base, base + hw), d.h, d.w, fmColour);
  const k = size / Math.max(d.w, d.h);
  blit(ctx, off, x, y, d.w * k, d.h * k);
  return [d.w * k, d.h * k];
}

function fmLayout(d) {
  const cols = Math.min(d.c, 8), rows = Math.ceil(d.c / cols);
  const cell = Math.max(28, Math.min(96, Math.floor(640 / cols) - 6));
  return { cols, rows, cell, gap: 6, top: 4 };
}

function fmDraw(canvas, data, s) {
  const d = s.meta, ctx = canvas.getContext("2d");
  if (s.view === "grid") {
    const L = fmLayout(d);
    canvas.width = L.cols * (L.cell + L.gap);
    canvas.height = L.rows * (L.cell + L.gap + 14) + L.top;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.font = "11px sans-serif"; ctx.textAlign = "center"; ctx.fillStyle = "#333";
    for (let k = 0; k < d.c; k++) {
      const x = (k % L.cols) * (L.cell + L.gap) + L.gap / 2;
      const y = Math.floor(k / L.cols) * (L.cell + L.gap + 14) + L.top;
      const [w, h] = fmPaint(ctx, data, d, k, x, y, L.cell);
      ctx.fillStyle = k === s.channel ? "#d62728" : "#333";
      ctx.font = k === s.channel ? "bold 11px sans-serif" : "11px sans-serif";
      ctx.fillText(`ch ${k}`, x + L.cell / 2, y + h + 11);
      if (k === s.channel) { ctx.strokeStyle = "#d62728"; ctx.lineWidth = 3; ctx.strokeRect(x - 1.5, y - 1.5, w + 3, h + 3); }
    }
  } else {
    const size = 300;
    canvas.width = size + 90; canvas.height = size + 8;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    fmPaint(ctx, data, d, s.channel, 4, 4, size);
    // colour bar with the channel's own min and max
    const bx = size + 16, bh = size - 20;
    for (let i = 0; i < bh; i++) {
      const q = Math.round(255 * (1 - i / (bh - 1)));
      ctx.fillStyle = `rgb(${fmColour(q).join(",")})`;
      ctx.fillRect(bx, 14 + i, 14, 1);
    }
    ctx.fillStyle = "#333"; ctx.font = "11px sans-serif"; ctx.textAlign = "left";
    ctx.fillText(d.max[s.channel].toPrecision(3), bx + 18, 18);
    ctx.fillText(d.min[s.channel].toPrecision(3), bx + 18, 14 + bh);
  }
}

function render({ model, el }) {
  const root = explorerRoot(el, "featuremaps", model);
  const caption = makeElement(root, "div", { font: "13px sans-serif", margin: "4px 0" });
  caption.setAttribute("aria-live", "polite");
  const canvas = fluidCanvas(root, 1, 1); // fmDraw sizes it to the layer
  canvas.style.cursor = "pointer";
  let data = null;
  let current = null;
  const limits = {};

  function draw(since) {
    const started = performance.now();
    if (data === null) data = bytesOf(model.get("data"));
    const layers = model.get("layers");
    const s = fmSelect(layers, data, choice(model, "layer"), Number(model.get("channel")), choice(model, "view"));
    current = s;
    fmDraw(canvas, data, s);
    const [h, w, c] = s.shape;
    const note = s.channel !== s.requested_channel ? ` (channel ${s.requested_channel} does not exist here: showing the last one)` : "";
    caption.textContent =
      `${s.layer}: ${h}×${w}×${c}; channel ${s.channel}${note}: ` +
      `min ${s.min.toFixed(3)}, max ${s.max.toFixed(3)}, mean ${s.mean.toFixed(3)}` +
      (s.view === "grid" ? ". Click a map to select its channel." : ".");
    const label = s.view === "grid"
      ? `All ${c} channels of layer ${s.layer}, each ${h} by ${w}, channel ${s.channel} highlighted`
      : `Channel ${s.channel} of layer ${s.layer}, ${h} by ${w}, values from ${s.min.toFixed(3)} to ${s.max.toFixed(3)}`;
    const values = { layer: s.layer, channel: s.channel, requested_channel: s.requested_channel,
      view: s.view, shape: s.shape, min: s.min, max: s.max, mean: s.mean };
    publish(root, model, canvas, label, values, values, since, started);
    // The channel slider's range follows the layer where the page's widget
    // manager lets us reach it; the view clamps the channel anyway.
    limitControl(model, limits, "channel", { max: c - 1 });
  }

  function onClick(event) {
    if (!current || current.view !== "grid") return;
    const L = fmLayout(current.meta), rect = canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) * canvas.width) / rect.width;
    const y = ((event.clientY - rect.top) * canvas.height) / rect.height;
    const k = Math.floor(y / (L.cell + L.gap + 14)) * L.cols + Math.floor(x / (L.cell + L.gap));
    if (k >= 0 && k < current.meta.c) setTraits(model, { channel: k });
  }
  canvas.addEventListener("click", onClick);
  const schedule = drawScheduler(draw);
  const unwatch = watch(model, ["layer_index", "channel", "view_index", "layers", "options"], schedule);
  const redata = () => { data = null; schedule(); };
  model.on("change:data", redata);
  draw(performance.now());
  return () => { unwatch(); model.off("change:data", redata); canvas.removeEventListener("click", onClick); };
}

export default { render };
