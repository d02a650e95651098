// Load the widget front ends from this folder, never from a CDN: require.js,
// then its configuration, then the html-manager's embed-amd.js, which renders
// the page's embedded widget state. One script, so that the order cannot be
// lost (nb_ipywidgets_js is a mapping whose order a YAML round trip may sort).
(function () {
  var src = document.currentScript.src;
  var base = src.slice(0, src.lastIndexOf("/") + 1);

  function load(path, next) {
    var script = document.createElement("script");
    script.src = base + path;
    script.onload = next || null;
    script.onerror = function () {
      console.error("cnnguide widgets: could not load " + script.src);
    };
    document.head.appendChild(script);
  }

  function configure() {
    // The manager asks require.js for `anywidget` before it tries a CDN. Its
    // bundled modules compute where their assets are (the Font Awesome icon
    // fonts) from their require.js URLs, "@jupyter-widgets/base" and
    // "@jupyter-widgets/html-manager/dist/...": map both to html-manager/ here,
    // where update.sh puts the fonts (those modules are defined inside
    // embed-amd.js, so require.js never fetches them from these paths).
    window.require.config({
      paths: {
        anywidget: base + "anywidget/index",
        "@jupyter-widgets": base + "html-manager",
        "@jupyter-widgets/html-manager/dist": base + "html-manager",
      },
    });
  }

  // The ipywidgets controls typeset their labels with the MathJax 2 call
  // MathJax.Hub.Queue(["Typeset", MathJax.Hub, el]) whenever window.MathJax
  // exists; the book serves MathJax 3, which has no Hub, so every labelled
  // control threw "Cannot read properties of undefined (reading 'Queue')".
  // This shim maps that call onto MathJax 3's typesetPromise.
  function shim(mj) {
    if (!mj || typeof mj !== "object" || mj.Hub) return;
    mj.Hub = {
      Queue: function () {
        var els = [];
        for (var i = 0; i < arguments.length; i++) {
          var job = arguments[i];
          if (Array.isArray(job) && job[0] === "Typeset" && job[2]) els.push(job[2]);
        }
        var m = window.MathJax;
        if (!els.length || !m || !m.startup || !m.startup.promise) return;
        m.startup.promise.then(function () {
          return m.typesetPromise ? m.typesetPromise(els) : null;
        }).catch(function (e) { console.warn("MathJax typeset of a widget label", e); });
      },
    };
  }
  shim(window.MathJax);  // the configuration object, before MathJax 3 loads
  document.addEventListener("DOMContentLoaded", function () {
    shim(window.MathJax);  // MathJax 3 itself (its script is deferred)
  });

  // The ipywidgets slider draws its handle as a <div role="slider"> beside its
  // <label class="widget-label">, not inside it, so a screen reader announces
  // an unnamed slider (axe-core: aria-input-field-name). Name each handle by
  // its label, through aria-labelledby, as the views render (asynchronously).
  var labelled = 0;
  function nameSliders() {
    var handles = document.querySelectorAll(".widget-slider [role=slider]");
    for (var i = 0; i < handles.length; i++) {
      var handle = handles[i];
      if (handle.getAttribute("aria-label") || handle.getAttribute("aria-labelledby")) continue;
      var slider = handle.closest(".widget-slider");
      var label = slider && slider.querySelector(".widget-label");
      if (!label || !label.textContent.trim()) continue;  // nothing to name it by
      if (!label.id) label.id = "cnnguide-slider-label-" + (++labelled);
      handle.setAttribute("aria-labelledby", label.id);
    }
  }
  var pending = false;
  new MutationObserver(function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; nameSliders(); });
  }).observe(document.documentElement, { childList: true, subtree: true });

  // embed-amd.js renders at once when the page has loaded, else on "load".
  load("requirejs/require.js", function () {
    configure();
    load("html-manager/embed-amd.js");
  });
})();
