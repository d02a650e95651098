// Chapter 4: max or average pooling of the chosen image, with window size,
// stride and padding, the window of one output pixel and the global average,
// computed and drawn in the page. poolCompute() feeds both the drawing and
// data-values; the browser test compares it with cnnguide.ops.pool2d.

const POOL_VIEW = 280;

// As tf.nn.max_pool2d / avg_pool2d: padded cells never win a max and are left
// out of an average. Both are separable: each output row first reduces its
// window's rows in every column, then each output pixel reduces its columns.
function poolCompute(image, mode, size, stride, padding, row, col) {
  const { h, w, data } = image;
  const padsH = padsFor(padding, h, size, stride), padsW = padsFor(padding, w, size, stride);
  const oh = outputLength(h, size, stride, padsH), ow = outputLength(w, size, stride, padsW);
  let total = 0;
  for (let i = 0; i < h * w; i++) total += data[i];
  const base = {
    mode, size, stride, padding, input_shape: [h, w], pads: [padsH, padsW], shape: [oh, ow],
    global_average: total / (h * w),
  };
  if (oh < 1 || ow < 1) return { ...base, fits: false };
  const max = mode === "max";
  const pooled = new Float64Array(oh * ow);
  const column = new Float64Array(w);
  for (let y = 0; y < oh; y++) {
    const top = y * stride - padsH[0];
    const r0 = Math.max(top, 0), r1 = Math.min(top + size, h);
    column.fill(max ? -Infinity : 0);
    for (let r = r0; r < r1; r++) {
      const offset = r * w;
      if (max) {
        for (let c = 0; c < w; c++) if (data[offset + c] > column[c]) column[c] = data[offset + c];
      } else {
        for (let c = 0; c < w; c++) column[c] += data[offset + c];
      }
    }
    for (let x = 0; x < ow; x++) {
      const left = x * stride - padsW[0];
      const c0 = Math.max(left, 0), c1 = Math.min(left + size, w);
      let acc = max ? -Infinity : 0;
      for (let c = c0; c < c1; c++) {
        if (max) { if (column[c] > acc) acc = column[c]; } else acc += column[c];
      }
      pooled[y * ow + x] = max ? acc : acc / ((r1 - r0) * (c1 - c0));
    }
  }
  const r = Math.min(Math.max(row, 0), oh - 1), c = Math.min(Math.max(col, 0), ow - 1);
  return {
    ...base, fits: true, pooled, row: r, col: c,
    window: [r * stride - padsH[0], c * stride - padsW[0], size, size],
    value: pooled[r * ow + c],
  };
}

function poolDraw(ui, image, v) {
  const { ctx, scale, pt, pb, pl, pr } = drawPaddedInput(ui, image, v.pads, POOL_VIEW);
  const out = ui.output.getContext("2d");
  if (!v.fits) {
    sizeCanvas(ui.output, POOL_VIEW, 40);
    clearCanvas(out, ui.output);
    out.fillStyle = "#b00";
    out.fillText("the window does not fit: no output", 8, 20);
  } else {
    const [top, left, size] = v.window;
    strokeBox(ctx, (left + pl) * scale, (top + pt) * scale, size * scale, size * scale, WINDOW_COLOUR, 2);
    const [oh, ow] = v.shape;
    const fscale = POOL_VIEW / Math.max(oh, ow);
    sizeCanvas(ui.output, ow * fscale, oh * fscale);
    clearCanvas(out, ui.output);
    ui.outCache = greyCanvas(v.pooled, oh, ow, 0, 1, ui.outCache);
    blit(out, ui.outCache, 0, 0, ow * fscale, oh * fscale);
    strokeBox(out, v.col * fscale, v.row * fscale, Math.max(fscale, 2), Math.max(fscale, 2), WINDOW_COLOUR, 2);
  }
  const gap = ui.gap.getContext("2d");
  const g = Math.round(v.global_average * 255);
  gap.fillStyle = `rgb(${g}, ${g}, ${g})`;
  gap.fillRect(0, 0, ui.gap.width, ui.gap.height);
  gap.fillStyle = WINDOW_COLOUR;
  gap.font = "bold 16px sans-serif";
  gap.textAlign = "center";
  gap.fillText(fmt(v.global_average), ui.gap.width / 2, ui.gap.height / 2 + 6);
}

function poolLabel(imageName, v) {
  const head = `${v.mode} pooling of ${imageName}, window ${v.size}x${v.size}, stride ${v.stride}, ${v.padding} padding`;
  const sizes = v.fits
    ? `${v.input_shape[0]}x${v.input_shape[1]} -> ${v.shape[0]}x${v.shape[1]}; output pixel (${v.row}, ${v.col}) = ${fmt(v.value)}`
    : `${v.input_shape[0]}x${v.input_shape[1]}: the window does not fit, no output`;
  return `${head}: ${sizes}; global average of the input ${fmt(v.global_average)}.`;
}

function render({ model, el }) {
  const root = explorerRoot(el, "pooling", model);
  const caption = makeElement(root, "p", { margin: "4px 0", maxWidth: "760px" });
  caption.setAttribute("aria-live", "polite");
  const panels = makeElement(root, "div", { display: "flex", gap: "16px", flexWrap: "wrap", alignItems: "flex-start" });
  const inFig = makeElement(panels, "figure", { margin: "0" });
  const outFig = makeElement(panels, "figure", { margin: "0" });
  const gapFig = makeElement(panels, "figure", { margin: "0" });
  const ui = {};
  ui.input = makeCanvas(inFig, POOL_VIEW, POOL_VIEW, true);
  ui.inputTitle = makeElement(inFig, "figcaption", { fontSize: "12px", maxWidth: POOL_VIEW + "px" });
  ui.output = makeCanvas(outFig, POOL_VIEW, POOL_VIEW, true);
  ui.outputTitle = makeElement(outFig, "figcaption", { fontSize: "12px" });
  ui.gap = makeCanvas(gapFig, 90, 90, false);
  ui.gapTitle = makeElement(gapFig, "figcaption", { fontSize: "12px" }, "global average (1x1)");
  const limits = {};
  let last = null;

  function draw(since) {
    const started = performance.now();
    const index = Number(model.get("image_index"));
    const image = imageFromModel(model, index);
    image.key = index;
    const imageName = choice(model, "image");
    const v = poolCompute(image, choice(model, "mode"), Number(model.get("size")), Number(model.get("stride")),
      choice(model, "padding"), Number(model.get("row")), Number(model.get("col")));
    v.image = imageName;
    last = v;
    poolDraw(ui, image, v);
    const [[pt, pb], [pl, pr]] = v.pads;
    ui.inputTitle.textContent = `input ${image.h}x${image.w}` +
      (pt + pb + pl + pr ? `, padding ${pt}/${pb} rows, ${pl}/${pr} columns (shaded, left out)` : ", no padding");
    ui.outputTitle.textContent = v.fits ? `${v.mode} pooled ${v.shape[0]}x${v.shape[1]}` : "no output";
    const label = poolLabel(imageName, v);
    caption.textContent = label;
    ui.output.setAttribute("aria-label", ui.outputTitle.textContent);
    ui.gap.setAttribute("aria-label", `global average ${fmt(v.global_average)}`);
    const exposed = { ...v, pooled: v.fits ? encodeArray(v.pooled, v.shape) : null };
    const summary = { shape: v.shape, row: v.row, col: v.col, value: v.value, global_average: v.global_average };
    publish(root, model, ui.input, label, exposed, summary, since, started);
    if (v.fits) {
      limitControl(model, limits, "row", { max: v.shape[0] - 1 });
      limitControl(model, limits, "col", { max: v.shape[1] - 1 });
    }
  }

  const schedule = drawScheduler(draw);
  watch(model, ["image_index", "mode_index", "size", "stride", "padding_index", "row", "col", "pixels", "shapes"], schedule);
  function moveTo(r, c) {
    if (!last || !last.fits) return;
    setTraits(model, {
      row: Math.min(Math.max(r, 0), last.shape[0] - 1),
      col: Math.min(Math.max(c, 0), last.shape[1] - 1),
    });
  }
  arrowKeys(ui.input, (dr, dc) => last && moveTo(last.row + dr, last.col + dc));
  arrowKeys(ui.output, (dr, dc) => last && moveTo(last.row + dr, last.col + dc));
  ui.output.addEventListener("click", (event) => {
    if (!last || !last.fits) return;
    const box = ui.output.getBoundingClientRect();
    const fscale = box.width / last.shape[1];
    moveTo(Math.floor((event.clientY - box.top) / fscale), Math.floor((event.clientX - box.left) / fscale));
  });
  draw(performance.now());
}

export default { render };
