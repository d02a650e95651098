// Chapter 3: convolution (cross-correlation, as Keras computes it) of the
// chosen image with the chosen kernel, computed and drawn in the page.
// convCompute() is the one function whose result feeds the drawing and
// data-values; the browser test compares it with cnnguide.ops.conv2d.

const CONV_VIEW = 300; // CSS pixels of each panel
const CONV_TABLE_MAX = 7; // products table for kernels up to 7 x 7

function convKernel(model) {
  const name = choice(model, "kernel");
  if (name === model.get("custom_name")) {
    const weights = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) weights.push(Number(model.get(`w${i}${j}`)));
    return { name, size: 3, kh: 3, kw: 3, weights, sized: false, factors: null };
  }
  const bank = model.get("kernel_bank")[name];
  const size = Number(model.get("size"));
  const sized = bank.sized;
  const entry = sized ? bank.sizes[String(size)] : bank.sizes["*"];
  return { name, size, kh: entry.shape[0], kw: entry.shape[1], weights: entry.weights, sized, factors: entry.factors || null };
}

// A kernel given as a sum of column x row products (kernel_bank's "factors",
// from its SVD: a Gaussian or a box blur is one product): per product, a column
// pass then a row pass, 2k multiply-adds per pixel instead of k * k.
function convSeparable(padded, pw, oh, ow, stride, kh, kw, factors) {
  const out = new Float64Array(oh * ow);
  const column = new Float64Array(pw);
  for (const [u, v] of factors) {
    for (let y = 0; y < oh; y++) {
      column.fill(0);
      for (let i = 0; i < kh; i++) {
        const weight = u[i];
        if (weight === 0) continue;
        const src = (y * stride + i) * pw;
        for (let x = 0; x < pw; x++) column[x] += weight * padded[src + x];
      }
      const dst = y * ow;
      for (let j = 0; j < kw; j++) {
        const weight = v[j];
        if (weight === 0) continue;
        for (let x = 0; x < ow; x++) out[dst + x] += weight * column[x * stride + j];
      }
    }
  }
  return out;
}

// The plain way: one pass per (nonzero) kernel tap, as ops.conv2d.
function convDirect(padded, pw, oh, ow, stride, kh, kw, weights) {
  const out = new Float64Array(oh * ow);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const weight = weights[i * kw + j];
      if (weight === 0) continue;
      for (let y = 0; y < oh; y++) {
        const src = (y * stride + i) * pw + j;
        const dst = y * ow;
        for (let x = 0; x < ow; x++) out[dst + x] += weight * padded[src + x * stride];
      }
    }
  }
  return out;
}

// Everything the view shows, for one setting.
function convCompute(image, kernel, stride, padding, row, col) {
  const { h, w, data } = image;
  const { kh, kw, weights } = kernel;
  const padsH = padsFor(padding, h, kh, stride);
  const padsW = padsFor(padding, w, kw, stride);
  const oh = outputLength(h, kh, stride, padsH);
  const ow = outputLength(w, kw, stride, padsW);
  const base = {
    input_shape: [h, w], kernel: kernel.name, size: kernel.size, kernel_shape: [kh, kw],
    weights: Array.from(weights), stride, padding, pads: [padsH, padsW], shape: [oh, ow],
  };
  if (oh < 1 || ow < 1) return { ...base, fits: false };
  // The padded input (zeros around), then the convolution.
  const ph = h + padsH[0] + padsH[1], pw = w + padsW[0] + padsW[1];
  const padded = new Float64Array(ph * pw);
  for (let y = 0; y < h; y++) {
    padded.set(data.subarray(y * w, (y + 1) * w), (y + padsH[0]) * pw + padsW[0]);
  }
  const out = kernel.factors
    ? convSeparable(padded, pw, oh, ow, stride, kh, kw, kernel.factors)
    : convDirect(padded, pw, oh, ow, stride, kh, kw, weights);
  const r = Math.min(Math.max(row, 0), oh - 1), c = Math.min(Math.max(col, 0), ow - 1);
  const patch = [], products = [];
  let value = 0;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const pixel = padded[(r * stride + i) * pw + c * stride + j];
      patch.push(pixel);
      products.push(pixel * weights[i * kw + j]);
    }
  }
  for (const p of products) value += p;
  const [low, high] = valueRange(out);
  return {
    ...base, fits: true, feature_map: out, row: r, col: c,
    window: [r * stride - padsH[0], c * stride - padsW[0], kh, kw],
    patch, products, value, range: [low, high],
  };
}

function convLabel(imageName, v) {
  const size = `${v.input_shape[0]}x${v.input_shape[1]}`;
  const named = String(imageName).includes(size) ? imageName : `${imageName} (${size})`;
  const head = `Convolution of ${named} with ${v.kernel} ` +
    `${v.kernel_shape[0]}x${v.kernel_shape[1]}, stride ${v.stride}, ${v.padding} padding`;
  if (!v.fits) return `${head}: the kernel does not fit, no output.`;
  return `${head}: feature map ${v.shape[0]}x${v.shape[1]}. ` +
    `Window at output pixel (${v.row}, ${v.col}), sum of products ${fmt(v.value)}.`;
}

function convArithmetic(node, v) {
  if (!v.fits) {
    node.innerHTML = "";
    return;
  }
  const [kh, kw] = v.kernel_shape;
  if (kh > CONV_TABLE_MAX || kw > CONV_TABLE_MAX) {
    node.innerHTML = `<p>Output pixel (${v.row}, ${v.col}) = sum of ${kh * kw} products pixel &times; weight = ` +
      `<b>${fmt(v.value)}</b> (the table is shown for kernels up to ${CONV_TABLE_MAX}x${CONV_TABLE_MAX}).</p>`;
    return;
  }
  let limit = 0;
  for (const p of v.products) limit = Math.max(limit, Math.abs(p));
  const rows = [];
  for (let i = 0; i < kh; i++) {
    const cells = [];
    for (let j = 0; j < kw; j++) {
      const t = i * kw + j;
      cells.push(`<td style="padding:2px 6px;text-align:right;background:${divergingColour(v.products[t], limit)}">` +
        `${fmt(v.patch[t], 2)}&times;${fmt(v.weights[t], 2)} = ${fmt(v.products[t])}</td>`);
    }
    rows.push(`<tr>${cells.join("")}</tr>`);
  }
  const terms = v.products.slice(0, 9).map((p) => `(${fmt(p)})`).join(" + ");
  const more = v.products.length > 9 ? " + ..." : "";
  node.innerHTML = `<p style="margin:4px 0">Output pixel (${v.row}, ${v.col}): pixel &times; weight for each tap</p>` +
    `<table style="font-family:monospace;font-size:11px;border-collapse:collapse">${rows.join("")}</table>` +
    `<p style="font-family:monospace;font-size:11px;margin:4px 0">sum = ${terms}${more} = <b>${fmt(v.value)}</b></p>`;
}

// Input with its padding frame and the window; feature map with the pixel.
function convDraw(ui, image, v) {
  const { ctx: inCtx, scale, pt, pb, pl, pr } = drawPaddedInput(ui, image, v.pads, CONV_VIEW);
  const fmCtx = ui.output.getContext("2d");
  if (v.fits) sizeCanvas(ui.output, (CONV_VIEW / Math.max(...v.shape)) * v.shape[1], (CONV_VIEW / Math.max(...v.shape)) * v.shape[0]);
  clearCanvas(fmCtx, ui.output);
  if (!v.fits) {
    fmCtx.fillStyle = "#b00";
    fmCtx.fillText("the kernel does not fit: no output", 10, 20);
    return;
  }
  const [top, left, kh, kw] = v.window;
  strokeBox(inCtx, (left + pl) * scale, (top + pt) * scale, kw * scale, kh * scale, WINDOW_COLOUR, 2);
  const [oh, ow] = v.shape;
  const fscale = CONV_VIEW / Math.max(oh, ow);
  // A signed map on a diverging scale centred on zero (a grey ramp from its
  // minimum would paint 0 mid-grey somewhere different for every kernel).
  const signed = v.range[0] < 0;
  const limit = Math.max(Math.abs(v.range[0]), Math.abs(v.range[1]));
  ui.fmCache = signed
    ? divergingCanvas(v.feature_map, oh, ow, limit, ui.fmCache)
    : greyCanvas(v.feature_map, oh, ow, 0, v.range[1], ui.fmCache);
  blit(fmCtx, ui.fmCache, 0, 0, ow * fscale, oh * fscale);
  // On a red-and-blue map an orange-red marker reads as data: mark it in black.
  const marker = signed ? "#000" : WINDOW_COLOUR;
  strokeBox(fmCtx, v.col * fscale, v.row * fscale, Math.max(fscale, 2), Math.max(fscale, 2), marker, 2, signed ? [3, 2] : undefined);
  ui.inputTitle.textContent = `input ${image.h}x${image.w}` + (pt + pb + pl + pr ? `, padding ${pt}/${pb} rows, ${pl}/${pr} columns (shaded)` : ", no padding");
  ui.output.setAttribute("aria-label", `feature map ${oh}x${ow}, values ${fmt(v.range[0], 2)} to ${fmt(v.range[1], 2)}; marked pixel (${v.row}, ${v.col}) = ${fmt(v.value)}`);
  ui.outputTitle.textContent = signed
    ? `feature map ${oh}x${ow} (blue < 0 < red, white = 0, ends at ±${fmt(limit, 2)}; values ${fmt(v.range[0], 2)} to ${fmt(v.range[1], 2)})`
    : `feature map ${oh}x${ow} (grey: black = 0, white = ${fmt(v.range[1], 2)})`;
}

function render({ model, el }) {
  const root = explorerRoot(el, "convolution", model);
  const caption = makeElement(root, "p", { margin: "4px 0", maxWidth: "640px" });
  caption.setAttribute("aria-live", "polite");
  const panels = makeElement(root, "div", { display: "flex", gap: "16px", flexWrap: "wrap" });
  const left = makeElement(panels, "figure", { margin: "0" });
  const right = makeElement(panels, "figure", { margin: "0" });
  const ui = {};
  ui.input = makeCanvas(left, CONV_VIEW, CONV_VIEW, true);
  ui.inputTitle = makeElement(left, "figcaption", { fontSize: "12px" });
  ui.output = makeCanvas(right, CONV_VIEW, CONV_VIEW, true);
  ui.outputTitle = makeElement(right, "figcaption", { fontSize: "12px" });
  ui.output.setAttribute("aria-label", "feature map");
  const arithmetic = makeElement(root, "div");
  const uploadRow = makeElement(root, "p", { margin: "4px 0" });
  const uploadLabel = makeElement(uploadRow, "label", {}, "Your own image (PNG/JPEG, stays in this page): ");
  const upload = makeElement(uploadLabel, "input");
  upload.type = "file";
  upload.accept = "image/png,image/jpeg";
  const uploadNote = makeElement(uploadRow, "span", { marginLeft: "8px" });

  let uploaded = null; // {name, image}: shown until another image is chosen
  let last = null;
  const limits = {};

  function currentImage() {
    if (uploaded) return uploaded.image;
    const index = Number(model.get("image_index"));
    const image = imageFromModel(model, index);
    image.key = "model:" + index;
    image.name = choice(model, "image");
    return image;
  }

  function draw(since) {
    const started = performance.now();
    const image = currentImage();
    const kernel = convKernel(model);
    const stride = Number(model.get("stride"));
    const padding = choice(model, "padding");
    const v = convCompute(image, kernel, stride, padding, Number(model.get("row")), Number(model.get("col")));
    v.image = image.name;
    last = v;
    convDraw(ui, image, v);
    convArithmetic(arithmetic, v);
    const label = convLabel(image.name, v);
    caption.textContent = label;
    const exposed = { ...v, feature_map: v.fits ? encodeArray(v.feature_map, v.shape) : null };
    const summary = { shape: v.shape, row: v.row, col: v.col, value: v.value, image: image.name, kernel_shape: v.kernel_shape };
    publish(root, model, ui.input, label, exposed, summary, since, started);
    if (v.fits) {
      limitControl(model, limits, "row", { max: v.shape[0] - 1 });
      limitControl(model, limits, "col", { max: v.shape[1] - 1 });
    }
    limitControl(model, limits, "size", { disabled: !kernel.sized });
    // The 3x3 grid of weights matters only for the custom kernel.
    const custom = choice(model, "kernel") === model.get("custom_name");
    for (const w of ["w00", "w01", "w02", "w10", "w11", "w12", "w20", "w21", "w22"]) {
      limitControl(model, limits, w, { disabled: !custom });
    }
  }

  const schedule = drawScheduler(draw);
  const names = ["image_index", "kernel_index", "size", "stride", "padding_index", "row", "col", "pixels", "shapes", "kernel_bank"];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) names.push(`w${i}${j}`);
  watch(model, names, schedule);
  model.on("change:image_index", () => {
    uploaded = null;
    uploadNote.textContent = "";
  });

  function moveTo(r, c) {
    if (!last || !last.fits) return;
    r = Math.min(Math.max(r, 0), last.shape[0] - 1);
    c = Math.min(Math.max(c, 0), last.shape[1] - 1);
    setTraits(model, { row: r, col: c });
  }
  arrowKeys(ui.input, (dr, dc) => last && moveTo(last.row + dr, last.col + dc));
  arrowKeys(ui.output, (dr, dc) => last && moveTo(last.row + dr, last.col + dc));
  ui.output.addEventListener("click", (event) => {
    if (!last || !last.fits) return;
    const box = ui.output.getBoundingClientRect();
    const fscale = CONV_VIEW / Math.max(last.shape[0], last.shape[1]);
    moveTo(Math.floor((event.clientY - box.top) / fscale), Math.floor((event.clientX - box.left) / fscale));
  });
  ui.input.addEventListener("click", (event) => {
    if (!last || !last.fits) return;
    const box = ui.input.getBoundingClientRect();
    const [[pt, pb], [pl, pr]] = last.pads;
    const [ih, iw] = last.input_shape;
    const scale = CONV_VIEW / Math.max(ih + pt + pb, iw + pl + pr);
    // The window whose centre is nearest the click.
    const y = (event.clientY - box.top) / scale - pt, x = (event.clientX - box.left) / scale - pl;
    const [kh, kw] = last.kernel_shape;
    moveTo(Math.round((y + pt - kh / 2) / last.stride), Math.round((x + pl - kw / 2) / last.stride));
  });
  upload.addEventListener("change", () => {
    const file = upload.files && upload.files[0];
    if (!file) return;
    readImageFile(file, 256).then((image) => {
      image.key = "upload:" + file.name + ":" + file.size;
      image.name = "your image " + file.name;
      uploaded = { image };
      uploadNote.textContent = `${file.name} as 256x256 greyscale (choose another image above to go back)`;
      schedule();
    }).catch((error) => {
      uploadNote.textContent = `could not read ${file.name}: ${error.message || error}`;
    });
  });
  draw(performance.now());
}

export default { render };
