// Small enhancements; every page works without this file (the core path is plain links and forms).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // "Select all on this page" in the queue.
    var all = document.querySelector("[data-select-all]");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = all.checked; });
      });
    }
    // The upload page: a file dropped on the form fills its file input and sends it (the input works alone).
    var zone = document.querySelector("[data-dropzone]");
    if (zone) {
      var input = zone.querySelector("input[type=file]");
      ["dragenter", "dragover"].forEach(function (name) {
        zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
      });
      zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        zone.classList.remove("dragging");
        if (!event.dataTransfer || !event.dataTransfer.files.length) { return; }
        input.files = event.dataTransfer.files;
        zone.requestSubmit();
      });
    }
    // The gallery's lightbox: the original photo, with previous / next and the arrow keys.
    var box = document.getElementById("lightbox");
    if (!box) { return; }
    var links = Array.prototype.slice.call(document.querySelectorAll("a[data-lightbox]"));
    var image = box.querySelector("img"), caption = box.querySelector("[data-caption]"), index = 0;
    function show(i) {
      index = (i + links.length) % links.length;
      image.src = links[index].getAttribute("data-lightbox");
      caption.textContent = links[index].getAttribute("data-caption") || "";
      box.classList.add("open");
    }
    links.forEach(function (link, i) {
      link.addEventListener("click", function (event) { event.preventDefault(); show(i); });
    });
    box.querySelector("[data-prev]").addEventListener("click", function () { show(index - 1); });
    box.querySelector("[data-next]").addEventListener("click", function () { show(index + 1); });
    box.querySelector("[data-close]").addEventListener("click", function () { box.classList.remove("open"); });
    document.addEventListener("keydown", function (event) {
      if (!box.classList.contains("open")) { return; }
      if (event.key === "ArrowLeft") { show(index - 1); }
      if (event.key === "ArrowRight") { show(index + 1); }
      if (event.key === "Escape") { box.classList.remove("open"); }
    });
  });
})();
