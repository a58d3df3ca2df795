// Classic (blocking) script loaded in <head>: apply the stored theme before first paint.
(function () {
  try {
    var t = localStorage.getItem('sm-theme');
    if (t === 'light' || t === 'dark') document.documentElement.setAttribute('data-theme', t);
  } catch (e) {
    /* storage unavailable */
  }
})();
