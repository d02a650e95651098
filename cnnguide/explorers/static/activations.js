// Chapter 6: an activation function and its derivative, computed and drawn in
// the page. actCompute() is the one function whose result feeds the drawing and
// data-values; the browser test compares it with cnnguide.activations.
// Its own names start with "act", as the other explorers' do (convDraw, poolCompute).

function actSigmoid(x) {
  // The form whose exp never overflows (as cnnguide.activations.sigmoid).
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

const ACT_FUNCTIONS = {
  sigmoid: { uses: null, f: (x) => actSigmoid(x), d: (x) => { const s = actSigmoid(x); return s * (1 - s); } },
  tanh: { uses: null, f: (x) => Math.tanh(x), d: (x) => { const t = Math.tanh(x); return 1 - t * t; } },
  relu: { uses: null, f: (x) => Math.max(x, 0), d: (x) => (x > 0 ? 1 : 0) },
  leaky_relu: { uses: "alpha", f: (x, a) => (x > 0 ? x : a * x), d: (x, a) => (x > 0 ? 1 : a) },
  prelu: { uses: "alpha", f: (x, a) => (x > 0 ? x : a * x), d: (x, a) => (x > 0 ? 1 : a) },
  elu: {
    uses: "alpha",
    f: (x, a) => (x > 0 ? x : a * Math.expm1(Math.min(x, 0))),
    d: (x, a) => (x > 0 ? 1 : a * Math.exp(Math.min(x, 0))),
  },
  swish: {
    uses: "beta",
    f: (x, a, b) => x * actSigmoid(b * x),
    d: (x, a, b) => { const s = actSigmoid(b * x); return s + b * x * s * (1 - s); },
  },
  linear: { uses: null, f: (x) => x, d: () => 1 },
};

// x = linspace(-xMax, xMax, n) exactly as numpy.linspace computes it.
function actCompute(name, alpha, beta, xMax, n) {
  const fn = ACT_FUNCTIONS[name];
  if (!fn) throw new Error(`unknown activation ${name}`);
  const x = new Array(n), y = new Array(n), dy = new Array(n);
  const start = -xMax, step = (2 * xMax) / (n - 1);
  for (let i = 0; i < n; i++) {
    x[i] = i === n - 1 ? xMax : start + i * step;
    y[i] = fn.f(x[i], alpha, beta);
    dy[i] = fn.d(x[i], alpha, beta);
  }
  return { function: name, uses: fn.uses, alpha, beta, x_max: xMax, n, x, y, dy };
}

function actDraw(canvas, v) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  const m = { l: 44, r: 12, t: 12, b: 30 };
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, H);
  let lo = Math.min(-0.25, ...v.y, ...v.dy), hi = Math.max(1.25, ...v.y, ...v.dy);
  const pad = 0.06 * (hi - lo);
  lo -= pad; hi += pad;
  const sx = (x) => m.l + ((x + v.x_max) / (2 * v.x_max)) * (W - m.l - m.r);
  const sy = (y) => H - m.b - ((y - lo) / (hi - lo)) * (H - m.t - m.b);
  // axes and ticks
  ctx.strokeStyle = "#bbb"; ctx.lineWidth = 1; ctx.setLineDash([]);
  ctx.beginPath(); ctx.moveTo(sx(-v.x_max), sy(0)); ctx.lineTo(sx(v.x_max), sy(0));
  ctx.moveTo(sx(0), sy(lo)); ctx.lineTo(sx(0), sy(hi)); ctx.stroke();
  ctx.fillStyle = "#444"; ctx.font = "11px sans-serif"; ctx.textAlign = "center";
  for (const t of [-v.x_max, -v.x_max / 2, 0, v.x_max / 2, v.x_max]) {
    ctx.fillText(String(+t.toFixed(2)), sx(t), H - m.b + 14);
  }
  ctx.fillText("x", (m.l + W - m.r) / 2, H - 3);
  ctx.textAlign = "right";
  const ystep = Math.pow(10, Math.floor(Math.log10(hi - lo))) / 2 * (hi - lo > 5 ? 2 : 1);
  for (let t = Math.ceil(lo / ystep) * ystep; t <= hi; t += ystep) {
    ctx.fillText(String(+t.toFixed(2)), m.l - 4, sy(t) + 4);
  }
  const line = (ys, colour, dash, width) => {
    ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.setLineDash(dash);
    ctx.beginPath();
    for (let i = 0; i < v.n; i++) {
      const px = sx(v.x[i]), py = sy(ys[i]);
      i ? ctx.lineTo(px, py) : ctx.moveTo(px, py);
    }
    ctx.stroke();
  };
  line(v.y, "#1f77b4", [], 2.5);
  line(v.dy, "#d62728", [6, 4], 1.8);
  ctx.setLineDash([]);
  // legend
  ctx.textAlign = "left"; ctx.font = "12px sans-serif";
  ctx.fillStyle = "#1f77b4"; ctx.fillRect(m.l + 8, m.t + 6, 18, 3);
  ctx.fillText(`${v.function}(x)`, m.l + 32, m.t + 11);
  ctx.fillStyle = "#d62728"; ctx.fillRect(m.l + 8, m.t + 22, 8, 3); ctx.fillRect(m.l + 18, m.t + 22, 8, 3);
  ctx.fillText("derivative", m.l + 32, m.t + 27);
}

function actSettings(v) {
  if (v.uses === "alpha") return `${v.function}, alpha ${v.alpha.toFixed(2)}`;
  if (v.uses === "beta") return `${v.function}, beta ${v.beta.toFixed(1)}`;
  return v.function;
}

function render({ model, el }) {
  const root = explorerRoot(el, "activations", model);
  const caption = makeElement(root, "div", { font: "13px sans-serif", margin: "4px 0" });
  caption.setAttribute("aria-live", "polite");
  const canvas = fluidCanvas(root, 520, 300);
  const limits = {};

  function draw(since) {
    const started = performance.now();
    const v = actCompute(
      choice(model, "function"), Number(model.get("alpha")), Number(model.get("beta")),
      Number(model.get("x_max")), Number(model.get("n_points")),
    );
    actDraw(canvas, v);
    // Grey out the parameter the chosen function does not use (a reader can
    // still see its value); choosing another function brings it back.
    limitControl(model, limits, "alpha", { disabled: v.uses !== "alpha" });
    limitControl(model, limits, "beta", { disabled: v.uses !== "beta" });
    const [lo, hi] = valueRange(v.y); // what the function's outputs span here
    const unused = v.uses === "alpha" ? "beta unused" : v.uses === "beta" ? "alpha unused" : "alpha and beta unused";
    caption.textContent =
      `${actSettings(v)} on [-${v.x_max}, ${v.x_max}] (${unused}): ` +
      `outputs from ${lo.toFixed(3)} to ${hi.toFixed(3)}; ` +
      `slope from ${Math.min(...v.dy).toFixed(3)} to ${Math.max(...v.dy).toFixed(3)}.`;
    const label = `Plot of ${actSettings(v)} (solid) and its derivative (dashed) for x from ` +
      `-${v.x_max} to ${v.x_max}, ${v.n} points each`;
    const values = { function: v.function, alpha: v.alpha, beta: v.beta, x_max: v.x_max,
      n: v.n, x: v.x, y: v.y, dy: v.dy };
    const summary = { function: v.function, alpha: v.alpha, beta: v.beta,
      x_max: v.x_max, n: v.n, y_min: lo, y_max: hi, draws: Number(root.dataset.draws) + 1 }; // this draw counted
    publish(root, model, canvas, label, values, summary, since, started);
  }
  const schedule = drawScheduler(draw);
  const unwatch = watch(model, ["function_index", "options", "alpha", "beta", "x_max", "n_points"], schedule);
  draw(performance.now());
  return unwatch;
}

export default { render };
