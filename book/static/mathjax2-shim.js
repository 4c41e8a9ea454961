/* MathJax 2's `MathJax.Hub`, as far as code written for MathJax 2 uses it, on MathJax 3.
 *
 * The site serves MathJax 3 (book/site.py). html-manager's widgets typeset their labels with
 * `MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`, and nbconvert's reveal.js template
 * calls `MathJax.Hub.getAllJax` and `MathJax.Hub.Rerender` on each new slide: without this file
 * those calls throw. Load it after MathJax 3 (with `defer`, like MathJax); it does nothing where
 * MathJax is not on the page, or is MathJax 2 itself.
 */
(function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub || !mj.startup) {
    return;
  }
  function typeset(element) {
    var ready = mj.startup.promise || Promise.resolve();
    return ready
      .then(function () {
        return mj.typesetPromise(element ? [element] : undefined);
      })
      .catch(function (error) {
        console.warn("MathJax could not typeset", element, error);
      });
  }
  mj.Hub = {
    Queue: function () {
      Array.prototype.forEach.call(arguments, function (job) {
        if (typeof job === "function") {
          job();
        } else if (Array.isArray(job) && job[0] === "Typeset") {
          typeset(job[2]);
        }
      });
    },
    Typeset: function (element) {
      return typeset(element);
    },
    Config: function () {},
    getAllJax: function () {
      return [];
    },
    Rerender: function () {},
  };
})();
