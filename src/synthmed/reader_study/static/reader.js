// Reader page: one image at a time; R / S answer, 1-5 set an optional confidence.
// The token comes from the link's #token= fragment and goes only into the Authorization header.
"use strict";
(function () {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  const $ = (id) => document.getElementById(id);
  let current = null;      // opaque id of the image on screen
  let confidence = null;   // 1..5 or null
  let busy = false;
  let objectUrl = null;

  function api(path, options) {
    const opts = Object.assign({ cache: "no-store" }, options || {});
    opts.headers = Object.assign({ "Authorization": "Bearer " + token }, opts.headers || {});
    return fetch(path, opts);
  }

  function show(text) {
    $("message").textContent = text;
    $("message").hidden = false;
    $("task").hidden = true;
  }

  function setState(name) { document.body.dataset.state = name; }

  function setProgress(state) {
    const shown = state.next ? state.answered + 1 : state.answered;
    $("progress").textContent = shown + " / " + state.total;
    $("reader").textContent = state.reader;
  }

  function setConfidence(value) {
    confidence = value;
    document.querySelectorAll(".conf").forEach((b) => {
      b.classList.toggle("selected", Number(b.dataset.conf) === value);
    });
  }

  async function showState(state) {
    setProgress(state);
    setConfidence(null);
    if (!state.next) {
      current = null;
      show("All " + state.total + " images answered. Thank you.");
      setState("done");
      return;
    }
    const res = await api("/api/reader/images/" + encodeURIComponent(state.next));
    if (!res.ok) { fail(res.status); return; }
    const blob = await res.blob();
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(blob);
    $("image").src = objectUrl;
    current = state.next;
    $("message").hidden = true;
    $("task").hidden = false;
    setButtons(true);
    setState("ready");
  }

  function fail(status) {
    setState("error");
    show(status === 403 ? "This link is not valid. Ask the study organiser for your personal link."
                        : "The server did not answer (" + status + "). Reload the page to continue.");
  }

  function setButtons(enabled) {
    $("btn-real").disabled = !enabled;
    $("btn-synthetic").disabled = !enabled;
  }

  async function answer(kind) {
    if (busy || !current) return;
    busy = true;
    setButtons(false);
    setState("busy");
    try {
      const res = await api("/api/reader/answers", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ image_id: current, answer: kind, confidence: confidence }),
      });
      if (!res.ok) { fail(res.status); return; }
      await showState(await res.json());
    } catch (err) {
      fail(0);
    } finally {
      busy = false;
    }
  }

  async function start() {
    if (!token) { fail(403); return; }
    try {
      const res = await api("/api/reader/state");
      if (!res.ok) { fail(res.status); return; }
      await showState(await res.json());
    } catch (err) {
      fail(0);
    }
  }

  $("btn-real").addEventListener("click", () => answer("real"));
  $("btn-synthetic").addEventListener("click", () => answer("synthetic"));
  document.querySelectorAll(".conf").forEach((b) => {
    b.addEventListener("click", () => setConfidence(Number(b.dataset.conf)));
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat) return;
    const key = ev.key.toLowerCase();
    if (key === "r") { ev.preventDefault(); answer("real"); }
    else if (key === "s") { ev.preventDefault(); answer("synthetic"); }
    else if (key >= "1" && key <= "5") { ev.preventDefault(); setConfidence(Number(key)); }
  });
  setState("loading");
  start();
})();
