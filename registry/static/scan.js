// Scan to fill the patient's registry ID at the counter (issue 9).
//
// 1. A 2D scanner in keyboard mode types the card's QR content into the focused field, then
//    Enter or Tab. The card's QR holds the bare 10-digit ID; any longer payload (a label, a URL,
//    spaces) is reduced to the ID as it is typed. The scanner's Enter does not send a form that
//    still lacks the date of birth: it moves on to the next field, as Tab does.
// 2. On a phone or tablet, "Scan the card with the camera" reads the QR code with jsQR
//    (vendor/jsQR.js, served by the app). The button stays hidden without a camera API.
(function () {
  "use strict";

  // The registry ID in whatever a scanner typed, or null when it holds none yet.
  function registryIdIn(text) {
    var compact = text.replace(/[\s-]/g, "");
    if (/^\d{10}$/.test(compact)) { return compact; }
    var found = /(?:^|\D)(\d{10})(?!\d)/.exec(compact);
    return found ? found[1] : null;
  }

  function nextField(field) {
    var form = field.form;
    if (!form) { return null; }
    // the next field to fill (the camera's buttons between them are skipped)
    var fields = Array.prototype.filter.call(form.elements, function (el) {
      return /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName) && el.type !== "hidden" &&
        !el.disabled && el.getClientRects().length > 0;
    });
    return fields[fields.indexOf(field) + 1] || null;
  }

  function filled(field, id) {
    field.value = id;
    field.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function wireScannerTyping(field) {
    field.addEventListener("input", function () {
      if (/^\d*$/.test(field.value)) { return; }  // typed by hand, digit by digit
      var id = registryIdIn(field.value);
      if (id !== null && id !== field.value) { field.value = id; }
    });
    field.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") { return; }
      var next = nextField(field);
      if (next === null || next.value !== "" || !/^\d{10}$/.test(field.value)) { return; }
      event.preventDefault();  // the scanner's Enter: the form is not complete yet
      next.focus();
    });
  }

  function wireCamera(field) {
    var button = document.getElementById("scan-camera");
    var panel = document.getElementById("scan-panel");
    var video = document.getElementById("scan-video");
    var status = document.getElementById("scan-status");
    var stopButton = document.getElementById("scan-stop");
    if (!button || !panel || !video || !status || !stopButton) { return; }
    if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function" ||
        typeof window.jsQR !== "function") { return; }  // no camera API: the button stays hidden
    navigator.mediaDevices.enumerateDevices().then(function (devices) {
      if (devices.some(function (d) { return d.kind === "videoinput"; })) {
        button.hidden = false;  // a camera is there
      }
    }).catch(function () { /* no camera list: the button stays hidden */ });
    var canvas = document.createElement("canvas");
    var stream = null;

    function stop() {
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
      stream = null;
      video.srcObject = null;
      panel.hidden = true;
      button.hidden = false;
    }

    function look() {
      if (!stream) { return; }
      if (video.readyState >= 2 && video.videoWidth > 0) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        var context = canvas.getContext("2d", { willReadFrequently: true });
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        var frame = context.getImageData(0, 0, canvas.width, canvas.height);
        var code = window.jsQR(frame.data, frame.width, frame.height,
                               { inversionAttempts: "dontInvert" });
        var id = code ? registryIdIn(code.data) : null;
        if (id !== null) {
          stop();
          filled(field, id);
          status.textContent = "Registry ID " + id + " read from the card.";
          var next = nextField(field);
          (next || field).focus();
          return;
        }
      }
      window.requestAnimationFrame(look);
    }

    button.addEventListener("click", function () {
      status.textContent = "Starting the camera…";
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (s) {
          stream = s;
          video.srcObject = s;
          panel.hidden = false;
          button.hidden = true;
          status.textContent = "Hold the card's QR code in front of the camera.";
          stopButton.focus();
          return video.play();
        })
        .then(function () { window.requestAnimationFrame(look); })
        .catch(function (err) {
          stop();
          status.textContent = "The camera could not be used (" + err.name +
            "): type the registry ID instead.";
          field.focus();
        });
    });
    stopButton.addEventListener("click", function () {
      stop();
      status.textContent = "Camera stopped.";
      field.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var field = document.querySelector("input[data-scan-target]");
    if (!field) { return; }
    wireScannerTyping(field);
    wireCamera(field);
  });
})();
