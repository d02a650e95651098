// Chapter 4: how a k x k window walks over an n x n input with a stride and
// padding, the output size from the formula next to the positions counted by
// walking, and the same k, stride and padding applied (as a k x k mean) to a
// whole image. spCompute() feeds both the drawing and data-values; the browser
// test compares it with cnnguide.ops.output_size and cnnguide.ops.conv2d.

const SP_PANEL = 260; // CSS pixels of the walk and output panels
const SP_IMAGE = 260;
const SP_PALETTE = [
  [205, 205, 205], // padding
  [250, 250, 250], // input
  [255, 214, 196], // the window over padding
  [236, 170, 150], // the window over the input
];

function spFormula(n, k, stride, padding) {
  if (padding === "same") return { value: Math.ceil(n / stride), text: `ceil(${n}/${stride}) = ${Math.ceil(n / stride)}` };
  const p = padding === "valid" ? 0 : Number(padding);
  const value = Math.floor((n + 2 * p - k) / stride) + 1;
  return { value, text: `floor((${n} + 2*${p} - ${k})/${stride}) + 1 = ${value}` };
}

// Window starts that keep a k-window inside a padded length, walked one by one.
function spStarts(padded, k, stride) {
  const starts = [];
  for (let s = 0; s + k <= padded; s += stride) starts.push(s);
  return starts;
}

// A k x k mean over the image, as ops.conv2d(image, ones((k, k)) / k**2, ...):
// every weight is the same float32 1/k**2, so the window's sum (a column pass,
// then a row pass) times that weight.
function spMeanFilter(image, k, stride, padding) {
  const { h, w, data } = image;
  const padsH = padsFor(padding, h, k, stride), padsW = padsFor(padding, w, k, stride);
  const oh = outputLength(h, k, stride, padsH), ow = outputLength(w, k, stride, padsW);
  if (oh < 1 || ow < 1) return { pads: [padsH, padsW], shape: [oh, ow], fits: false };
  const weight = Math.fround(1 / (k * k)); // the float32 weight conv2d gets
  const out = new Float64Array(oh * ow);
  const column = new Float64Array(w);
  for (let y = 0; y < oh; y++) {
    const top = y * stride - padsH[0];
    column.fill(0);
    for (let r = Math.max(top, 0); r < Math.min(top + k, h); r++) {
      for (let c = 0; c < w; c++) column[c] += data[r * w + c];
    }
    for (let x = 0; x < ow; x++) {
      const left = x * stride - padsW[0];
      let sum = 0;
      for (let c = Math.max(left, 0); c < Math.min(left + k, w); c++) sum += column[c];
      out[y * ow + x] = weight * sum;
    }
  }
  return { pads: [padsH, padsW], shape: [oh, ow], fits: true, feature_map: out };
}

function spCompute(image, n, k, stride, padding, step) {
  const pads = padsFor(padding, n, k, stride);
  const formula = spFormula(n, k, stride, padding);
  const padded = n + pads[0] + pads[1];
  const starts = spStarts(padded, k, stride);
  const out = starts.length;
  const v = {
    n, k, stride, padding, pads: [pads, pads], formula: formula.value, formula_text: formula.text,
    produced: [out, out], starts,
  };
  if (out > 0) {
    const s = Math.min(Math.max(step, 0), out * out - 1);
    v.step = s;
    v.position = [Math.floor(s / out), s % out];
    v.window = [starts[v.position[0]], starts[v.position[1]], k, k]; // in padded cells
  }
  const mean = spMeanFilter(image, k, stride, padding);
  v.image_shape = [image.h, image.w];
  v.image_formula = [spFormula(image.h, k, stride, padding).value, spFormula(image.w, k, stride, padding).value];
  v.image_pads = mean.pads;
  v.image_fits = mean.fits;
  v.image_output_shape = mean.shape;
  v.feature_map = mean.feature_map || null;
  return v;
}

function spDrawWalk(canvas, v) {
  const [pt, pb] = v.pads[0];
  const padded = v.n + pt + pb;
  const cell = Math.max(6, Math.min(28, Math.floor(SP_PANEL / padded)));
  sizeCanvas(canvas, padded * cell + 1, padded * cell + 1);
  const ctx = canvas.getContext("2d");
  clearCanvas(ctx, canvas);
  for (let r = 0; r < padded; r++) {
    for (let c = 0; c < padded; c++) {
      const inside = r >= pt && r < pt + v.n && c >= pt && c < pt + v.n;
      const inWindow = v.window && r >= v.window[0] && r < v.window[0] + v.k && c >= v.window[1] && c < v.window[1] + v.k;
      const [R, G, B] = SP_PALETTE[(inside ? 1 : 0) + (inWindow ? 2 : 0)];
      ctx.fillStyle = `rgb(${R}, ${G}, ${B})`;
      ctx.fillRect(c * cell, r * cell, cell, cell);
    }
  }
  ctx.strokeStyle = "rgb(90, 90, 90)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let i = 0; i <= padded; i++) {
    ctx.moveTo(i * cell + 0.5, 0);
    ctx.lineTo(i * cell + 0.5, padded * cell);
    ctx.moveTo(0, i * cell + 0.5);
    ctx.lineTo(padded * cell, i * cell + 0.5);
  }
  ctx.stroke();
  ctx.fillStyle = WINDOW_COLOUR;
  for (const r0 of v.starts) {
    for (const c0 of v.starts) {
      ctx.beginPath();
      ctx.arc((c0 + v.k / 2) * cell, (r0 + v.k / 2) * cell, Math.max(2, cell / 8), 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  if (v.window) strokeBox(ctx, v.window[1] * cell, v.window[0] * cell, v.k * cell, v.k * cell, WINDOW_COLOUR, 3);
}

function spDrawOutput(canvas, v) {
  const out = v.produced[0];
  const cell = Math.max(8, Math.min(40, Math.floor(SP_PANEL / Math.max(out, 1))));
  sizeCanvas(canvas, Math.max(out, 1) * cell + 1, Math.max(out, 1) * cell + 1);
  const ctx = canvas.getContext("2d");
  clearCanvas(ctx, canvas);
  for (let r = 0; r < out; r++) {
    for (let c = 0; c < out; c++) {
      const here = v.position && r === v.position[0] && c === v.position[1];
      ctx.fillStyle = here ? "rgb(236, 170, 150)" : "rgb(250, 250, 250)";
      ctx.fillRect(c * cell, r * cell, cell, cell);
      ctx.strokeStyle = "rgb(90, 90, 90)";
      ctx.strokeRect(c * cell + 0.5, r * cell + 0.5, cell, cell);
    }
  }
}

function spDrawImage(canvas, ui, v) {
  const ctx = canvas.getContext("2d");
  if (!v.image_fits) {
    sizeCanvas(canvas, SP_IMAGE, 40);
    clearCanvas(ctx, canvas);
    ctx.fillStyle = "#b00";
    ctx.fillText("the window does not fit in the image", 8, 20);
    return;
  }
  const [oh, ow] = v.image_output_shape;
  const scale = SP_IMAGE / Math.max(oh, ow);
  sizeCanvas(canvas, ow * scale, oh * scale);
  clearCanvas(ctx, canvas);
  ui.fmCache = greyCanvas(v.feature_map, oh, ow, 0, 1, ui.fmCache);
  blit(ctx, ui.fmCache, 0, 0, ow * scale, oh * scale);
}

function spLabel(imageName, v) {
  const head = `A ${v.k}x${v.k} window on a ${v.n}x${v.n} input, stride ${v.stride}, padding ${v.padding}`;
  const walk = v.produced[0] > 0
    ? `formula ${v.formula_text}; walking the window gives ${v.produced[0]}x${v.produced[1]} positions, position ${v.step} highlighted`
    : `formula ${v.formula_text}: the window does not fit, no output`;
  const img = v.image_fits
    ? `on the ${v.image_shape[0]}x${v.image_shape[1]} image (${imageName}) the same settings give ${v.image_output_shape[0]}x${v.image_output_shape[1]}`
    : `on the ${v.image_shape[0]}x${v.image_shape[1]} image the window does not fit`;
  return `${head}: ${walk}; ${img}.`;
}

function render({ model, el }) {
  const root = explorerRoot(el, "stride_padding", model);
  const caption = makeElement(root, "p", { margin: "4px 0", maxWidth: "820px" });
  caption.setAttribute("aria-live", "polite");
  const panels = makeElement(root, "div", { display: "flex", gap: "16px", flexWrap: "wrap", alignItems: "flex-start" });
  const walkFig = makeElement(panels, "figure", { margin: "0" });
  const outFig = makeElement(panels, "figure", { margin: "0" });
  const imgFig = makeElement(panels, "figure", { margin: "0" });
  const ui = {};
  ui.walk = makeCanvas(walkFig, SP_PANEL, SP_PANEL, true);
  ui.walkTitle = makeElement(walkFig, "figcaption", { fontSize: "12px", maxWidth: SP_PANEL + "px" });
  ui.out = makeCanvas(outFig, SP_PANEL, SP_PANEL, true);
  ui.outTitle = makeElement(outFig, "figcaption", { fontSize: "12px" });
  ui.image = makeCanvas(imgFig, SP_IMAGE, SP_IMAGE, false);
  ui.imageTitle = makeElement(imgFig, "figcaption", { fontSize: "12px", maxWidth: SP_IMAGE + "px" });
  const limits = {};
  let last = null;

  function draw(since) {
    const started = performance.now();
    const index = Number(model.get("image_index"));
    const image = imageFromModel(model, index);
    const imageName = choice(model, "image");
    const v = spCompute(image, Number(model.get("n")), Number(model.get("k")), Number(model.get("stride")),
      choice(model, "padding"), Number(model.get("step")));
    v.image = imageName;
    last = v;
    spDrawWalk(ui.walk, v);
    spDrawOutput(ui.out, v);
    spDrawImage(ui.image, ui, v);
    const [pt, pb] = v.pads[0];
    ui.walkTitle.textContent = `${v.n}x${v.n} input (white), padding ${pt} before / ${pb} after (grey); dots: the centre of each window position`;
    ui.outTitle.textContent = v.produced[0] > 0
      ? `output ${v.produced[0]}x${v.produced[1]} (formula ${v.formula})`
      : `no output (formula ${v.formula})`;
    ui.imageTitle.textContent = v.image_fits
      ? `${imageName}: ${v.image_shape[0]}x${v.image_shape[1]} -> ${v.image_output_shape[0]}x${v.image_output_shape[1]} (${v.k}x${v.k} mean)`
      : `${imageName}: the window does not fit`;
    const label = spLabel(imageName, v);
    caption.textContent = label;
    ui.out.setAttribute("aria-label", ui.outTitle.textContent);
    ui.image.setAttribute("aria-label", ui.imageTitle.textContent);
    const exposed = { ...v, feature_map: v.image_fits ? encodeArray(v.feature_map, v.image_output_shape) : null };
    const summary = { formula: v.formula, produced: v.produced, image_output_shape: v.image_output_shape, step: v.step };
    publish(root, model, ui.walk, label, exposed, summary, since, started);
    if (v.produced[0] > 0) limitControl(model, limits, "step", { max: v.produced[0] * v.produced[1] - 1 });
  }

  const schedule = drawScheduler(draw);
  watch(model, ["image_index", "n", "k", "stride", "padding_index", "step", "pixels", "shapes"], schedule);
  function move(dr, dc) {
    if (!last || !last.position) return;
    const out = last.produced[0];
    const r = Math.min(Math.max(last.position[0] + dr, 0), out - 1);
    const c = Math.min(Math.max(last.position[1] + dc, 0), out - 1);
    setTraits(model, { step: r * out + c });
  }
  arrowKeys(ui.walk, move);
  arrowKeys(ui.out, move);
  ui.out.addEventListener("click", (event) => {
    if (!last || !last.position) return;
    const out = last.produced[0];
    const box = ui.out.getBoundingClientRect();
    const cell = box.width / out;
    const r = Math.min(out - 1, Math.floor((event.clientY - box.top) / cell));
    const c = Math.min(out - 1, Math.floor((event.clientX - box.left) / cell));
    setTraits(model, { step: r * out + c });
  });
  draw(performance.now());
}

export default { render };
