// New arrivals in the queue without a reload: fetch the rows every few seconds and put them in place.
// Without JavaScript the queue is a plain page (reload it or filter again).
(function () {
  "use strict";
  var body = document.getElementById("queue-rows");
  if (!body || !body.dataset.poll) { return; }
  var seconds = Math.max(2, parseInt(body.dataset.seconds || "10", 10));
  function refresh() {
    fetch(body.dataset.poll, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) { if (html !== null && html !== body.dataset.last) { body.innerHTML = html; body.dataset.last = html; } })
      .catch(function () { /* the next round tries again */ });
  }
  setInterval(refresh, seconds * 1000);
}());
