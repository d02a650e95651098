// cnnguide explorers: helpers shared by every explorer's ES module.
//
// cnnguide.explorers._core.load_esm() puts this file in front of each
// explorer's own file, so these are plain function declarations (no imports,
// no exports). The data-attribute contract the browser tests read:
//   root element: class "cnnguide-explorer", data-explorer="<name>",
//   data-draws (counter), data-draw-ms (compute + draw), data-drawn-at
//   (performance.now() when the draw ended), data-values (JSON of what the
//   view shows; big arrays as {dtype, shape, b64}, see encodeArray);
//   the canvas: role="img" and an aria-label with the settings and output size.

// ----------------------------------------------------------------- model access

// A synced Bytes trait arrives as a DataView (html-manager, JupyterLab), an
// ArrayBuffer, a typed array, a plain array of byte values, or (in some
// embeddings) a base64 string.
function bytesOf(value) {
  if (value == null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === "string") {
    const raw = atob(value);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  if (Array.isArray(value)) return Uint8Array.from(value);
  if (value.buffer) return bytesOf(value.buffer);
  throw new Error("cannot read image bytes from " + Object.prototype.toString.call(value));
}

// The current choice of a selection control: options[name][<name>_index].
function choice(model, name) {
  const options = (model.get("options") || {})[name] || [];
  const index = Number(model.get(name + "_index"));
  return options[Math.min(Math.max(index, 0), options.length - 1)];
}

// The i-th image of the synced `pixels` (all images concatenated) and `shapes`.
function imageFromModel(model, index) {
  const bytes = bytesOf(model.get("pixels"));
  const shapes = model.get("shapes") || [];
  let start = 0;
  const i = Math.min(Math.max(index, 0), shapes.length - 1);
  for (let j = 0; j < i; j++) start += shapes[j][0] * shapes[j][1];
  const [h, w] = shapes[i];
  const data = new Float64Array(h * w);
  for (let p = 0; p < h * w; p++) data[p] = bytes[start + p] / 255;
  return { h, w, data, bytes: bytes.subarray(start, start + h * w) };
}

// The model of the control linked to trait `name` (a Promise; null when the
// page's widget manager cannot give it).
function controlModel(model, name) {
  const ref = (model.get("control_models") || {})[name];
  if (!ref || !model.widget_manager || !model.widget_manager.get_model) return Promise.resolve(null);
  const id = String(ref).replace(/^IPY_MODEL_/, "");
  try {
    return Promise.resolve(model.widget_manager.get_model(id)).catch(() => null);
  } catch (error) {
    return Promise.resolve(null);
  }
}

function saveQuietly(m) {
  // Without a kernel there is nothing to save to; the change stays in the page.
  try { m.save_changes(); } catch (error) { /* static page */ }
}

// Keep a slider's range within what the settings allow (best effort; the view
// clamps anyway). `limits` caches what was last asked, per trait.
function limitControl(model, limits, name, settings) {
  const key = JSON.stringify(settings);
  if (limits[name] === key) return;
  limits[name] = key;
  controlModel(model, name).then((m) => {
    if (!m) return;
    for (const [attr, value] of Object.entries(settings)) {
      if (m.get(attr) !== value) m.set(attr, value);
    }
    if (settings.max !== undefined && Number(m.get("value")) > settings.max) m.set("value", settings.max);
    saveQuietly(m);
  });
}

// Set traits from the page (a click, a key) and tell the kernel if there is one.
function setTraits(model, values) {
  for (const [name, value] of Object.entries(values)) model.set(name, value);
  saveQuietly(model);
}

// ----------------------------------------------------------------- draw cycle

// Coalesce the changes of one tick into one draw, after the current task.
function drawScheduler(draw) {
  let pending = false;
  let since = 0;
  return function schedule() {
    if (pending) return;
    pending = true;
    since = performance.now();
    queueMicrotask(() => {
      pending = false;
      draw(since);
    });
  };
}

// Redraw on a change of any of the traits `names`; returns what stops it.
function watch(model, names, schedule) {
  for (const name of names) model.on("change:" + name, schedule);
  return () => { for (const name of names) model.off("change:" + name, schedule); };
}

// The root element; it also carries (as a JS property, not an attribute) the
// model and a way to reach each control's model, for tests and benchmarks:
// root.cnnguide.model, root.cnnguide.control("stride") -> Promise<model>.
function explorerRoot(el, name, model) {
  const root = document.createElement("div");
  if (model) root.cnnguide = { model, control: (trait) => controlModel(model, trait) };
  root.className = "cnnguide-explorer";
  root.dataset.explorer = name;
  root.dataset.draws = "0";
  root.style.fontFamily = "system-ui, -apple-system, 'Segoe UI', sans-serif";
  root.style.fontSize = "13px";
  root.style.color = "#222";
  el.appendChild(root);
  return root;
}

function makeElement(parent, tag, style, text) {
  const node = document.createElement(tag);
  if (style) Object.assign(node.style, style);
  if (text !== undefined) node.textContent = text;
  parent.appendChild(node);
  return node;
}

function makeCanvas(parent, width, height, focusable) {
  const canvas = document.createElement("canvas");
  sizeCanvas(canvas, width, height);
  canvas.setAttribute("role", "img");
  if (focusable) canvas.tabIndex = 0;
  parent.appendChild(canvas);
  return canvas;
}

// A canvas whose CSS size follows its pixel size (set canvas.width/height, not
// sizeCanvas, to change it) and that shrinks with the page, keeping its shape.
function fluidCanvas(parent, width, height) {
  const canvas = makeCanvas(parent, width, height);
  Object.assign(canvas.style, { width: "", height: "", maxWidth: "100%" });
  return canvas;
}

// Resize a canvas (which clears it) only when its size changes.
function sizeCanvas(canvas, width, height) {
  width = Math.max(1, Math.round(width));
  height = Math.max(1, Math.round(height));
  if (canvas.width !== width) { canvas.width = width; canvas.style.width = width + "px"; }
  if (canvas.height !== height) { canvas.height = height; canvas.style.height = height + "px"; }
}

// After a draw: expose the values, count the draw, write the summary back.
function publish(root, model, canvas, label, values, summary, since, started) {
  canvas.setAttribute("aria-label", label);
  root.dataset.values = JSON.stringify(values);
  const end = performance.now();
  root.dataset.drawMs = (end - started).toFixed(3);
  root.dataset.latencyMs = (end - since).toFixed(3);
  root.dataset.drawnAt = end.toFixed(3);
  root.dataset.draws = String(Number(root.dataset.draws || 0) + 1);
  try {
    model.set("summary", summary);
    model.save_changes();
  } catch (error) { /* static page: no kernel to tell */ }
}

// ----------------------------------------------------------------- numbers

// A typed array as {dtype, shape, b64}; cnnguide.explorers._core.decode_array reads it.
function encodeArray(array, shape) {
  const typed = array instanceof Float64Array ? array : Float64Array.from(array);
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
  }
  return { dtype: "float64", shape, b64: btoa(binary) };
}

function valueRange(values) {
  let low = Infinity, high = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < low) low = v;
    if (v > high) high = v;
  }
  return [low, high];
}

function fmt(value, digits) {
  if (!Number.isFinite(value)) return String(value);
  const text = value.toFixed(digits === undefined ? 3 : digits);
  return text === "-0.000" ? "0.000" : text;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// ----------------------------------------------------------------- drawing

// An (h, w) array of values as an image on an offscreen canvas (one canvas
// pixel per value), coloured by toRgb(value) -> [r, g, b]; `reuse` (a canvas
// of the same size) is drawn on again instead of making a new one.
function valuesCanvas(values, h, w, toRgb, reuse) {
  const off = reuse && reuse.width === w && reuse.height === h ? reuse : document.createElement("canvas");
  off.width = w;
  off.height = h;
  const ctx = off.getContext("2d");
  const image = ctx.createImageData(w, h);
  const px = image.data;
  for (let i = 0; i < h * w; i++) {
    const [r, g, b] = toRgb(values[i]);
    const o = 4 * i;
    px[o] = r;
    px[o + 1] = g;
    px[o + 2] = b;
    px[o + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return off;
}

// Grey: vmin -> black, vmax -> white.
function greyCanvas(values, h, w, vmin, vmax, reuse) {
  const span = vmax > vmin ? vmax - vmin : 1;
  return valuesCanvas(values, h, w, (value) => {
    const g = ((value - vmin) / span) * 255;
    const c = g < 0 ? 0 : g > 255 ? 255 : g;
    return [c, c, c];
  }, reuse);
}

// Signed values on the diverging map of divergingColour, centred on zero:
// -limit -> blue, 0 -> white, +limit -> red.
function divergingCanvas(values, h, w, limit, reuse) {
  return valuesCanvas(values, h, w, (value) => divergingRgb(value, limit), reuse);
}

// Draw an offscreen canvas scaled up with square pixels.
// The input image inside its padding (shaded), scaled to fit `view` CSS pixels,
// with a dashed frame; the grey image is cached on ui.inputCache per image.
// Returns the context, the scale and the padded size for the window drawn on top.
function drawPaddedInput(ui, image, pads, view) {
  const [[pt, pb], [pl, pr]] = pads;
  const ph = image.h + pt + pb, pw = image.w + pl + pr;
  const scale = view / Math.max(ph, pw);
  sizeCanvas(ui.input, pw * scale, ph * scale);
  const ctx = ui.input.getContext("2d");
  clearCanvas(ctx, ui.input);
  ctx.fillStyle = PADDING_COLOUR;
  ctx.fillRect(0, 0, pw * scale, ph * scale);
  if (!ui.inputCache || ui.inputCache.key !== image.key) {
    ui.inputCache = { key: image.key, canvas: greyCanvas(image.data, image.h, image.w, 0, 1) };
  }
  blit(ctx, ui.inputCache.canvas, pl * scale, pt * scale, image.w * scale, image.h * scale);
  strokeBox(ctx, 0.5, 0.5, pw * scale - 1, ph * scale - 1, "#888", 1, [4, 3]);
  return { ctx, scale, pt, pb, pl, pr };
}

function blit(ctx, off, x, y, width, height) {
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, x, y, width, height);
}

function strokeBox(ctx, x, y, width, height, colour, lineWidth, dash) {
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = lineWidth || 2;
  if (dash) ctx.setLineDash(dash);
  ctx.strokeRect(x, y, width, height);
  ctx.restore();
}

function clearCanvas(ctx, canvas, colour) {
  ctx.fillStyle = colour || "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
}

const WINDOW_COLOUR = "#e4572e";
const PADDING_COLOUR = "#c8d0e0";

// Blue (negative) - white (0) - red (positive), for weights, products and
// signed feature maps.
function divergingRgb(value, limit) {
  const t = limit > 0 ? Math.max(-1, Math.min(1, value / limit)) : 0;
  const a = Math.abs(t);
  const rgb = t >= 0 ? [255, 255 - 150 * a, 255 - 170 * a] : [255 - 170 * a, 255 - 120 * a, 255];
  return rgb.map(Math.round);
}

function divergingColour(value, limit) {
  const [r, g, b] = divergingRgb(value, limit);
  return `rgb(${r}, ${g}, ${b})`;
}

// TensorFlow's "same" rule along one axis: [before, after], extra pixel after.
function samePads(n, k, stride) {
  const out = Math.ceil(n / stride);
  const total = Math.max((out - 1) * stride + k - n, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function padsFor(padding, n, k, stride) {
  if (padding === "valid") return [0, 0];
  if (padding === "same") return samePads(n, k, stride);
  const p = Number(padding);
  return [p, p];
}

// floor((n + before + after - k) / stride) + 1; below 1 means "does not fit".
function outputLength(n, k, stride, pads) {
  return Math.floor((n + pads[0] + pads[1] - k) / stride) + 1;
}

// Arrow keys on a focusable canvas move an output position (row, col).
function arrowKeys(canvas, onMove) {
  canvas.addEventListener("keydown", (event) => {
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    onMove(move[0], move[1]);
  });
}

// Read a user's PNG/JPEG in the page as 8-bit grey, centre square resized to
// side x side (as cnnguide.data.load_image(size=side) does); luminance uses
// ITU-R 601 weights, as Pillow's "L" mode.
function readImageFile(file, side) {
  return createImageBitmap(file).then((bitmap) => {
    const canvas = document.createElement("canvas");
    canvas.width = side;
    canvas.height = side;
    const ctx = canvas.getContext("2d");
    const edge = Math.min(bitmap.width, bitmap.height);
    const sx = (bitmap.width - edge) / 2, sy = (bitmap.height - edge) / 2;
    ctx.drawImage(bitmap, sx, sy, edge, edge, 0, 0, side, side);
    const rgba = ctx.getImageData(0, 0, side, side).data;
    const data = new Float64Array(side * side);
    for (let i = 0; i < side * side; i++) {
      const grey = Math.round((rgba[4 * i] * 299 + rgba[4 * i + 1] * 587 + rgba[4 * i + 2] * 114) / 1000);
      data[i] = grey / 255;
    }
    return { h: side, w: side, data };
  });
}

// ----------------------------------------------------------------- H2: featuremaps, activations, thresholds
// (functions for the other explorers are appended below this line)
