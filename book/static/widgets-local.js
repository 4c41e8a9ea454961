/* Serve the widget renderer from the site itself (book/conf.py loads this between require.js
 * and html-manager's embed-amd.js; book/site.py copies those to _static/).
 *
 * embed-amd.js defines its modules (@jupyter-widgets/base, controls, output, html-manager, and
 * the ipywidgets 7 versions) with require.js, and each finds its fonts next to the address
 * require.js gives it. Left alone, that address is the page's own folder (notebooks/@jupyter-
 * widgets/...), where nothing is. The paths below give every module the folder of embed-amd.js,
 * _static/html-manager/, where its fonts are.
 *
 * A widget of any other module would be fetched from jsDelivr; book/stage.py removes such
 * widgets, and the attribute set below points that fallback at a folder of this site, so that
 * a widget that slipped through fails here instead of loading code from another host.
 */
(function () {
  var here = document.currentScript && document.currentScript.src;
  if (!here || !window.require || !window.require.config) {
    return;
  }
  var assets = new URL("html-manager/", here).href;
  var names = ["base", "base7", "controls", "controls7", "output", "html-manager"];
  var paths = { "@jupyter-widgets/html-manager/dist": assets.replace(/\/$/, "") };
  names.forEach(function (name) {
    paths["@jupyter-widgets/" + name] = assets + name;
  });
  window.require.config({ paths: paths });
  window.__jupyter_widgets_assets_path__ = assets;
  document.currentScript.setAttribute("data-jupyter-widgets-cdn", assets + "not-bundled/");
})();
