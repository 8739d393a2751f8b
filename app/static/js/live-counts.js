/* Live counts on a course page: every 30 s, read the course's open-data record and update
   the numbers in #live-counts (a polite live region) when they change.  No inline script. */
(function () {
  "use strict";
  var region = document.getElementById("live-counts");
  if (!region || !window.fetch) { return; }
  var code = region.getAttribute("data-course");
  var url = "/api/v1/public/courses/" + encodeURIComponent(code);
  function update() {
    if (document.hidden) { return; }
    fetch(url, { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.counts) { return; }
        var values = Object.assign({ quota: data.quota }, data.counts);
        region.querySelectorAll("[data-count]").forEach(function (el) {
          var key = el.getAttribute("data-count");
          if (key in values && String(values[key]) !== el.textContent.trim()) {
            el.textContent = String(values[key]);
          }
        });
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  window.setInterval(update, 30000);
})();
