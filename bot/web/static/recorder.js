// Records a voice note in the browser (MediaRecorder) and sends it to the console, which
// converts it to OGG/Opus and makes it live. No library: the browser's own APIs only.
(function () {
  "use strict";
  var box = document.getElementById("recorder");
  if (!box) { return; }
  var start = document.getElementById("record-start");
  var stop = document.getElementById("record-stop");
  var save = document.getElementById("record-save");
  var take = document.getElementById("take");
  var status = document.getElementById("record-status");
  var recorder = null, chunks = [], blob = null;

  function say(text) { status.textContent = text; }

  if (!window.MediaRecorder || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    start.disabled = true;
    say(box.dataset.unsupported);
    return;
  }

  start.addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      var type = ["audio/ogg;codecs=opus", "audio/webm;codecs=opus", "audio/webm"].find(
        function (t) { return MediaRecorder.isTypeSupported(t); });
      recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
      chunks = [];
      recorder.ondataavailable = function (e) { if (e.data.size) { chunks.push(e.data); } };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (track) { track.stop(); });
        blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
        take.src = URL.createObjectURL(blob);
        take.hidden = false;
        save.disabled = false;
        say("");
      };
      recorder.start();
      start.disabled = true;
      stop.disabled = false;
      save.disabled = true;
      say(box.dataset.recording);
    }, function () { say(box.dataset.denied); });
  });

  stop.addEventListener("click", function () {
    if (recorder && recorder.state !== "inactive") { recorder.stop(); }
    stop.disabled = true;
    start.disabled = false;
  });

  save.addEventListener("click", function () {
    if (!blob) { return; }
    var form = new FormData();
    var ext = (blob.type.indexOf("ogg") >= 0) ? "ogg" : "webm";
    form.append("csrf", box.dataset.csrf);
    form.append("revision", box.dataset.revision || "0");
    form.append("base", box.dataset.base || "");
    form.append("file", blob, "recording." + ext);
    save.disabled = true;
    fetch(box.dataset.url, {
      method: "POST", body: form, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": box.dataset.csrf }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (body.ok) { window.location.assign(body.next); return; }
        say(body.error);
        save.disabled = false;
      });
    }).catch(function () { say(box.dataset.failed); save.disabled = false; });
  });
})();
