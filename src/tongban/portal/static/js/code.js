/* 随申码 page: count down, and fetch the next code shortly before this one expires, so the
   holder never shows a stale code and the page never reloads. Plain ES5 for older phones.
   Its words come from the page (data-msg-*), so they are in the page's language. */
(function () {
  var box = document.getElementById("code-box");
  if (!box) { return; }
  var counter = document.getElementById("code-countdown");
  var status = document.getElementById("code-status");
  var qr = box.querySelector(".code-qr");
  var lead = 8;
  var expires = Date.now() + parseInt(box.getAttribute("data-ttl"), 10) * 1000;
  var busy = false;

  function refresh() {
    busy = true;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", box.getAttribute("data-next"));
    xhr.setRequestHeader("x-csrf-token", box.getAttribute("data-csrf"));
    xhr.onload = function () {
      busy = false;
      if (xhr.status !== 200) { status.textContent = box.getAttribute("data-msg-failed"); return; }
      var next = JSON.parse(xhr.responseText);
      qr.innerHTML = next.qr_svg;
      expires = Date.now() + next.expires_in * 1000;
      status.textContent = box.getAttribute("data-msg-ok");
    };
    xhr.onerror = function () {
      busy = false;
      status.textContent = box.getAttribute("data-msg-retry");
    };
    xhr.send();
  }

  function tick() {
    var left = Math.max(0, Math.round((expires - Date.now()) / 1000));
    counter.textContent = left;
    if (left <= lead && !busy) { refresh(); }
  }
  setInterval(tick, 1000);
})();
