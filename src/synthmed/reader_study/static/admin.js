// Admin page: results tables from /api/admin/results, CSV downloads. Token from the #token= fragment.
"use strict";
(function () {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  const $ = (id) => document.getElementById(id);

  function api(path) {
    return fetch(path, { cache: "no-store", headers: { "Authorization": "Bearer " + token } });
  }
  const pct = (v) => (v === null || v === undefined) ? "–" : (100 * v).toFixed(1) + " %";
  const num = (v, d) => (v === null || v === undefined) ? "–" : Number(v).toFixed(d);
  const cell = (k, n, name) => n ? k + "/" + n + " (" + (100 * k / n).toFixed(1) + " %, " + name + ")" : "– (" + name + ")";

  function row(tbody, values, leftCols) {
    const tr = document.createElement("tr");
    values.forEach((v, i) => {
      const td = document.createElement("td");
      td.textContent = v;            // textContent: reader names never become HTML
      if (i < (leftCols || 1)) td.className = "left";
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
  }

  function clear(id) {
    const tbody = document.querySelector("#" + id + " tbody");
    tbody.replaceChildren();
    return tbody;
  }

  function render(data) {
    $("study").textContent = (data.study || "") + " · " + data.total_images + " images";
    let tb = clear("progress-table");
    data.readers_progress.forEach((r) => row(tb, [r.name, r.answered + " / " + r.total]));
    tb = clear("decision-table");
    data.readers.forEach((r) => {
      row(tb, [r.reader, "real", cell(r.real_judged_real, r.n_real, "TP"),
               cell(r.synthetic_judged_real, r.n_synthetic, "FN")], 2);
      row(tb, ["", "synthetic", cell(r.real_judged_synthetic, r.n_real, "FP"),
               cell(r.synthetic_judged_synthetic, r.n_synthetic, "TN")], 2);
    });
    tb = clear("stats-table");
    data.readers.forEach((r) => row(tb, [r.reader, r.n, pct(r.accuracy),
      r.accuracy === null ? "–" : pct(r.accuracy_ci_low) + " – " + pct(r.accuracy_ci_high),
      num(r.p_value_vs_50, 3), num(r.sensitivity, 2), num(r.specificity, 2), num(r.f1, 4), num(r.f1_real, 4)]));
    $("mean-f1").textContent = "Mean F1: " + num(data.mean_f1, 4);
    tb = clear("class-table");
    data.readers.forEach((r) => r.per_class.forEach((c) => row(tb, [r.reader, c["class"], c.n, pct(c.accuracy),
      num(c.p_value_vs_50, 3), num(c.sensitivity, 2), num(c.specificity, 2)], 2)));
    const ag = data.agreement;
    $("agreement").textContent = ag.kappa === null ? "Not computed: " + ag.note
      : (ag.method === "cohen" ? "Cohen's" : "Fleiss'") + " kappa = " + ag.kappa.toFixed(3) + " (" +
        ag.readers.length + " readers, " + ag.n_images + " images answered by all)";
    $("message").hidden = true;
    $("content").hidden = false;
    document.body.dataset.state = "ready";
  }

  function show(text) {
    $("message").textContent = text;
    $("message").hidden = false;
    $("content").hidden = true;
  }

  async function load() {
    const res = await api("/api/admin/results");
    if (!res.ok) {
      document.body.dataset.state = "error";
      show(res.status === 403 ? "Not authorised: open the admin link printed by 'reader-study create'."
                              : "Server error " + res.status);
      return;
    }
    render(await res.json());
  }

  async function download(path, name) {
    const res = await api(path);
    if (!res.ok) { show("Download failed (" + res.status + ")"); return; }
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  $("refresh").addEventListener("click", load);
  $("dl-results").addEventListener("click", () => download("/api/admin/results.csv", "reader-study-results.csv"));
  $("dl-answers").addEventListener("click", () => download("/api/admin/answers.csv", "reader-study-answers.csv"));
  load();
})();
