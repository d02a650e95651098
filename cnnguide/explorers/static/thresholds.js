// Chapter 10: the decision threshold, computed and drawn in the page from the
// embedded labels (uint8) and scores (float32). thrPoint() computes everything
// that depends on the threshold, thrCurves() the ROC and precision-recall
// curves; both feed the drawing and data-values, which the browser test
// compares with cnnguide.metrics (scikit-learn). Convention: score >= threshold
// is called pneumonia (label 1); a ratio with an empty denominator is 0.
// Its own names start with "thr", as the other explorers' do (convDraw, poolCompute).

function thrData(model) {
  const labels = bytesOf(model.get("labels"));
  const raw = bytesOf(model.get("scores"));
  const scores = new Float32Array(raw.slice().buffer); // copy: aligned, little-endian
  if (labels.length !== scores.length) throw new Error("thresholds explorer: labels and scores differ in length");
  return { labels, scores };
}

function thrRatio(a, b) { return b ? a / b : 0; }

function thrPoint(data, t) {
  let tp = 0, fp = 0, fn = 0, tn = 0;
  const { labels, scores } = data;
  for (let i = 0; i < labels.length; i++) {
    const called = scores[i] >= t;
    if (labels[i] === 1) called ? tp++ : fn++;
    else called ? fp++ : tn++;
  }
  const n = tp + fp + fn + tn;
  const precision = thrRatio(tp, tp + fp), recall = thrRatio(tp, tp + fn);
  const specificity = thrRatio(tn, tn + fp);
  return {
    threshold: t, n, tn, fp, fn, tp, precision, recall, specificity,
    f1: thrRatio(2 * tp, 2 * tp + fp + fn), accuracy: thrRatio(tp + tn, n),
    fpr: 1 - specificity, tpr: recall, n_called_positive: tp + fp,
    precision_defined: tp + fp > 0,
  };
}

function thrCurves(data) {
  // Sweep the distinct scores from high to low: each is a threshold.
  const { labels, scores } = data;
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]);
  let P = 0;
  for (const l of labels) P += l === 1 ? 1 : 0;
  const N = labels.length - P;
  const roc = [[0, 0]], pr = [];
  let tp = 0, fp = 0, auc = 0, ap = 0, prevFpr = 0, prevTpr = 0, prevRecall = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    labels[i] === 1 ? tp++ : fp++;
    if (k + 1 < order.length && scores[order[k + 1]] === scores[i]) continue;
    const fpr = thrRatio(fp, N), tpr = thrRatio(tp, P);
    auc += (fpr - prevFpr) * (tpr + prevTpr) / 2;
    const precision = tp / (tp + fp);
    ap += (tpr - prevRecall) * precision;
    roc.push([fpr, tpr]);
    pr.push([tpr, precision]);
    prevFpr = fpr; prevTpr = tpr; prevRecall = tpr;
  }
  return { roc, pr, roc_auc: auc, pr_auc: ap, prevalence: thrRatio(P, P + N), positives: P, negatives: N };
}

const THR_BLUES = (f) => {
  // white (0) to dark blue (1)
  const a = [247, 251, 255], b = [8, 48, 107];
  return `rgb(${a.map((v, i) => Math.round(v + (b[i] - v) * f)).join(",")})`;
};

function thrDraw(canvas, p, c) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  ctx.font = "12px sans-serif"; ctx.textBaseline = "middle";
  // 1. confusion matrix
  const cells = [["TN", p.tn, 0, 0], ["FP", p.fp, 0, 1], ["FN", p.fn, 1, 0], ["TP", p.tp, 1, 1]];
  const big = Math.max(1, p.tn, p.fp, p.fn, p.tp);
  const x0 = 70, y0 = 40, s = 80;
  for (const [name, count, r, col] of cells) {
    ctx.fillStyle = THR_BLUES(count / big);
    ctx.fillRect(x0 + col * s, y0 + r * s, s - 2, s - 2);
    ctx.fillStyle = count / big > 0.5 ? "#fff" : "#000";
    ctx.textAlign = "center";
    ctx.font = "bold 13px sans-serif";
    ctx.fillText(name, x0 + col * s + s / 2, y0 + r * s + s / 2 - 9);
    ctx.font = "13px sans-serif";
    ctx.fillText(String(count), x0 + col * s + s / 2, y0 + r * s + s / 2 + 9);
  }
  ctx.fillStyle = "#333"; ctx.font = "11px sans-serif"; ctx.textAlign = "center";
  ctx.fillText("normal", x0 + s / 2, y0 - 10); ctx.fillText("pneumonia", x0 + 1.5 * s, y0 - 10);
  ctx.fillText("called", x0 + s, y0 - 26);
  ctx.textAlign = "right";
  ctx.fillText("normal", x0 - 4, y0 + s / 2); ctx.fillText("pneumonia", x0 - 4, y0 + 1.5 * s);
  ctx.save(); ctx.translate(12, y0 + s); ctx.rotate(-Math.PI / 2); ctx.textAlign = "center";
  ctx.fillText("truth", 0, 0); ctx.restore();
  ctx.textAlign = "left";
  ctx.fillText(`threshold ${p.threshold.toFixed(3)}`, x0, y0 + 2 * s + 16);
  // 2. and 3. the curves
  const panel = (px, title, xlabel, ylabel, pts, point, chance) => {
    const w = 200, h = 200, py = 30;
    const X = (v) => px + v * w, Y = (v) => py + h - v * h;
    ctx.strokeStyle = "#999"; ctx.lineWidth = 1; ctx.setLineDash([]);
    ctx.strokeRect(px, py, w, h);
    ctx.strokeStyle = "#aaa"; ctx.setLineDash([4, 3]); ctx.beginPath();
    if (chance === null) { ctx.moveTo(X(0), Y(0)); ctx.lineTo(X(1), Y(1)); }
    else { ctx.moveTo(X(0), Y(chance)); ctx.lineTo(X(1), Y(chance)); }
    ctx.stroke(); ctx.setLineDash([]);
    ctx.strokeStyle = "#1f77b4"; ctx.lineWidth = 2; ctx.beginPath();
    pts.forEach(([a, b], i) => (i ? ctx.lineTo(X(a), Y(b)) : ctx.moveTo(X(a), Y(b))));
    ctx.stroke();
    if (point) {
      ctx.fillStyle = "#d62728"; ctx.beginPath();
      ctx.arc(X(point[0]), Y(point[1]), 6, 0, 2 * Math.PI); ctx.fill();
      ctx.strokeStyle = "#fff"; ctx.lineWidth = 1.5; ctx.stroke();
    }
    ctx.fillStyle = "#333"; ctx.font = "12px sans-serif"; ctx.textAlign = "center";
    ctx.fillText(title, px + w / 2, py - 12);
    ctx.font = "11px sans-serif";
    ctx.fillText(xlabel, px + w / 2, py + h + 26);
    ctx.fillText("0", X(0), py + h + 10); ctx.fillText("1", X(1), py + h + 10);
    ctx.save(); ctx.translate(px - 14, py + h / 2); ctx.rotate(-Math.PI / 2);
    ctx.fillText(ylabel, 0, 0); ctx.restore();
  };
  panel(300, `ROC (AUC ${c.roc_auc.toFixed(3)})`, "false positive rate", "recall", c.roc, [p.fpr, p.tpr], null);
  panel(560, `precision-recall (AP ${c.pr_auc.toFixed(3)})`, "recall", "precision", c.pr,
    p.precision_defined ? [p.recall, p.precision] : null, c.prevalence);
}

function thrText(p) {
  const precision = p.precision_defined ? p.precision.toFixed(3) : "undefined (nothing called pneumonia)";
  return `threshold ${p.threshold.toFixed(3)}: TP ${p.tp}, FN ${p.fn}, FP ${p.fp}, TN ${p.tn}; ` +
    `recall ${p.recall.toFixed(3)}, specificity ${p.specificity.toFixed(3)}, ` +
    `precision ${precision}, F1 ${p.f1.toFixed(3)}, accuracy ${p.accuracy.toFixed(3)}`;
}

function render({ model, el }) {
  const root = explorerRoot(el, "thresholds", model);
  const caption = makeElement(root, "div", { font: "13px sans-serif", margin: "4px 0" });
  caption.setAttribute("aria-live", "polite");
  const canvas = fluidCanvas(root, 790, 270);

  let data = null, curvesCache = null;
  function load() { data = thrData(model); curvesCache = thrCurves(data); }

  function draw(since) {
    const started = performance.now();
    if (data === null) load();
    const p = thrPoint(data, Number(model.get("threshold")));
    const c = curvesCache;
    thrDraw(canvas, p, c);
    caption.textContent = thrText(p);
    const label = `Confusion matrix, ROC and precision-recall curves for ${p.n} cases at ` +
      `${thrText(p)}; operating point at false positive rate ${p.fpr.toFixed(3)}`;
    const values = { ...p, roc_auc: c.roc_auc, pr_auc: c.pr_auc,
      n_roc_points: c.roc.length, n_pr_points: c.pr.length };
    publish(root, model, canvas, label, values, { ...p, roc_auc: c.roc_auc, pr_auc: c.pr_auc }, since, started);
  }
  const schedule = drawScheduler(draw);
  const unwatch = watch(model, ["threshold"], schedule);
  const redata = () => { data = null; schedule(); };
  model.on("change:labels change:scores", redata);
  draw(performance.now());
  return () => { unwatch(); model.off("change:labels change:scores", redata); };
}

export default { render };
