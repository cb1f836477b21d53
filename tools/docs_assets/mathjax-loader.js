// mkdocs-jupyter puts <script src="assets/mathjax-loader.js"> (mkdocs.yml: custom_mathjax_url) on every notebook
// page. This loads the local MathJax 3 (assets/mathjax/tex-svg.js, copied by tools/build_docs.py from the
// django-static-mathjax wheel) only on pages whose text has TeX in it: no request ever leaves the site.
(function () {
  var here = document.currentScript && document.currentScript.src;
  if (!here) return;
  function load() {
    var root = document.querySelector(".jupyter-wrapper") || document.body;
    if (!/\$[^$\s][^$]*\$|\\\(|\\\[|\\begin\{/.test(root.textContent)) return;
    window.MathJax = {
      tex: { inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]], processEscapes: true },
      svg: { fontCache: "global" },
      options: { enableMenu: false }
    };
    var s = document.createElement("script");
    s.src = new URL("mathjax/tex-svg.js", here).href;
    s.async = true;
    document.head.appendChild(s);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", load);
  else load();
})();
