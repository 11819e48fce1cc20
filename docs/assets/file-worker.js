/* Search in the manual opened from the disk (file://), with no server and no internet.
 *
 * A browser refuses to start a Web Worker from a file:// page, and Material's search runs in one.
 * Material's offline plugin fetches a polyfill from a CDN for this; the manual has no internet, so
 * this is ours: on file:// pages only, `Worker` runs the worker's script in a hidden iframe of the
 * same page. Messages go both ways as events, and `importScripts` loads scripts in order and
 * returns a promise (Material's search worker waits for it when it finds `IFrameWorker`).
 */
(function () {
  "use strict";
  if (location.protocol !== "file:") return;

  function load(doc, url) {
    return new Promise(function (resolve, reject) {
      var script = doc.createElement("script");
      script.src = url;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error("cannot load " + url)); };
      doc.head.appendChild(script);
    });
  }

  function IFrameWorker(url) {
    var self = this;
    var target = document.createElement("div");
    this.addEventListener = target.addEventListener.bind(target);
    this.removeEventListener = target.removeEventListener.bind(target);
    this.dispatchEvent = target.dispatchEvent.bind(target);
    this.onmessage = null;
    this.onerror = null;
    this.queue = [];
    this.ready = false;
    var href = new URL(url, location.href).href;
    var frame = document.createElement("iframe");
    frame.hidden = true;
    frame.setAttribute("aria-hidden", "true");
    (document.body || document.documentElement).appendChild(frame);
    this.frame = frame;
    var w = frame.contentWindow;
    var doc = w.document;
    doc.open();
    doc.write("<!doctype html><html><head></head><body></body></html>");
    doc.close();
    w.importScripts = function () {
      var urls = Array.prototype.slice.call(arguments);
      return urls.reduce(function (p, u) {
        return p.then(function () { return load(doc, new URL(u, href).href); });
      }, Promise.resolve());
    };
    w.postMessage = function (data) {
      var event = new MessageEvent("message", { data: data });
      if (typeof self.onmessage === "function") self.onmessage(event);
      self.dispatchEvent(event);
    };
    load(doc, href).then(function () {
      self.ready = true;
      self.queue.splice(0).forEach(function (data) { self.postMessage(data); });
    }, function (error) {
      var event = new ErrorEvent("error", { message: String(error) });
      if (typeof self.onerror === "function") self.onerror(event);
      self.dispatchEvent(event);
    });
  }

  IFrameWorker.prototype.postMessage = function (data) {
    if (!this.ready) { this.queue.push(data); return; }
    var w = this.frame.contentWindow;
    setTimeout(function () { w.dispatchEvent(new w.MessageEvent("message", { data: data })); }, 0);
  };

  IFrameWorker.prototype.terminate = function () {
    this.frame.remove();
  };

  window.IFrameWorker = IFrameWorker;
  window.Worker = IFrameWorker;
})();
