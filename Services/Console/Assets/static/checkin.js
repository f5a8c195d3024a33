// The check-in page (a marshal's phone): scans passes with the camera where the browser can
// (BarcodeDetector), or takes the short code typed. Each scan is checked at once against the
// riders this page holds (so a pass for another bus is refused offline too), kept in the
// browser's storage, and sent to POST /checkins whenever the network is there; the server
// checks signatures and keeps each scan once, so a scan sent twice is harmless. Every few
// seconds it reads who all marshals have checked in (and who will not come) from the console.
(function () {
  const section = document.getElementById("checkin");
  if (!section) return;
  const day = section.dataset.day, bus = section.dataset.bus, venue = section.dataset.venue, csrf = section.dataset.csrf;
  const words = function (key) { return section.dataset["w" + key.charAt(0).toUpperCase() + key.slice(1)] || key; };
  const storageKey = "checkin-queue:" + day + ":" + (bus || "") + ":" + (venue || "");
  const rows = Array.prototype.slice.call(section.querySelectorAll("tr[data-registration]"));
  const byCode = {}, byKey = {};
  rows.forEach(function (row) {
    byCode[row.dataset.code] = row;
    byKey[row.dataset.registration + "|" + row.dataset.person] = row;
  });
  const last = document.getElementById("last");
  let sending = false;

  const queue = function () { try { return JSON.parse(localStorage.getItem(storageKey) || "[]"); } catch (e) { return []; } };
  const keep = function (scans) { localStorage.setItem(storageKey, JSON.stringify(scans)); };
  const mark = function (row, done) {
    row.dataset.done = done ? "1" : "";
    row.querySelector(".state").textContent = done ? "✓" : row.dataset.declined === "1" ? "✗ " + words("declined") : "";
  };
  const declare = function (row) {
    row.dataset.declined = "1";
    mark(row, row.dataset.done === "1");
  };
  // Expected here: everyone but those who will not come today (unless they came after all).
  const expected = function () {
    return rows.filter(function (r) { return r.dataset.declined !== "1" || r.dataset.done === "1"; });
  };
  const show = function (text, kind) { last.textContent = text; last.className = "last " + kind; };
  // After the bus's departure, who is not on board is missing.
  const departure = Number(section.dataset.departure || 0);
  const missing = function () {
    const note = document.getElementById("missing");
    if (!note || !departure || Date.now() < departure) return;
    const absent = expected().filter(function (r) { return r.dataset.done !== "1"; });
    rows.forEach(function (r) {
      const gone = absent.indexOf(r) >= 0;
      r.classList.toggle("missing", gone);
      r.querySelector("button.absent").hidden = !gone;
    });
    document.getElementById("missing-count").textContent = absent.length;
    note.hidden = absent.length === 0;
  };
  const refresh = function () {
    missing();
    document.getElementById("expected").textContent = expected().length;
    document.getElementById("checked").textContent = rows.filter(function (r) { return r.dataset.done === "1"; }).length;
    document.getElementById("queued").textContent = queue().length;
    document.getElementById("network").textContent = navigator.onLine ? words("online") : words("offline");
  };
  // queued scans are shown as checked in until the server says otherwise
  queue().forEach(function (scan) { if (byKey[scan.key]) mark(byKey[scan.key], true); });

  const id = function () {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "s-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  };
  // What a pass's token names (its payload), without its signature: the server checks that.
  const holder = function (token) {
    const parts = token.split(".");
    if (parts.length !== 4 || parts[0] !== "DP1") return null;
    try {
      const fields = atob(parts[2].replace(/-/g, "+").replace(/_/g, "/")).split("~");
      return fields.length === 4 ? fields[1] + "|" + fields[2] : null;
    } catch (e) { return null; }
  };

  const record = function (text, lead) {
    const value = text.trim();
    if (!value) return;
    let row, scan = { id: id(), day: day, scannedAt: new Date().toISOString() };
    if (bus) scan.bus = bus;
    if (venue) scan.venue = venue;
    if (lead) scan.lead = true;
    if (value.indexOf("DP1.") === 0) {
      row = byKey[holder(value)];
      scan.pass = value;
    } else {
      const code = value.toUpperCase().replace(/[^0-9A-Z]/g, "");
      row = byCode[code];
      scan.code = code;
    }
    if (!row) { show(words("unknown"), "refused"); return; }
    const name = row.children[1].textContent + " (" + row.children[0].firstChild.textContent.trim() + ")";
    if (row.dataset.done === "1") { show(words("twice") + ": " + name, "duplicate"); return; }
    scan.key = row.dataset.registration + "|" + row.dataset.person;
    const scans = queue();
    scans.push(scan);
    keep(scans);
    mark(row, true);
    show(words("kept") + ": " + name, "kept");
    refresh();
    send();
  };

  const send = function () {
    const scans = queue();
    if (sending || !scans.length || !navigator.onLine) { refresh(); return; }
    sending = true;
    fetch("/checkins", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ scans: scans.map(function (s) { const c = Object.assign({}, s); delete c.key; return c; }) })
    })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (answer) {
        const sent = {};
        answer.outcomes.forEach(function (outcome) {
          sent[outcome.id] = true;
          const scan = scans.find(function (s) { return s.id === outcome.id; });
          if (outcome.status === "refused" && scan && byKey[scan.key]) {
            mark(byKey[scan.key], false);
            show(words("refused") + ": " + outcome.reason, "refused");
          }
        });
        keep(queue().filter(function (s) { return !sent[s.id]; }));
      })
      .catch(function () {})
      .then(function () { sending = false; refresh(); });
  };

  document.getElementById("scan-form").addEventListener("submit", function (event) {
    event.preventDefault();
    const input = document.getElementById("scan-input");
    record(input.value);
    input.value = "";
    input.focus();
  });
  // The lead answers for the whole delegation: everyone of it not yet on board.
  Array.prototype.forEach.call(section.querySelectorAll("button.lead"), function (button) {
    button.addEventListener("click", function () {
      rows.filter(function (r) { return r.dataset.registration === button.dataset.registration && r.dataset.done !== "1"; })
        .forEach(function (r) { record(r.dataset.code, true); });
    });
  });
  // A missing rider's lead says they will not come today (the server needs the network for it).
  rows.forEach(function (row) {
    row.querySelector("button.absent").addEventListener("click", function () {
      fetch("/absences", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ registration: row.dataset.registration, day: day, persons: [Number(row.dataset.person)] })
      })
        .then(function (response) { if (!response.ok) return Promise.reject(response.status); declare(row); })
        .catch(function () { show(words("offline"), "refused"); })
        .then(refresh);
    });
  });
  // What every marshal recorded here, and who will not come.
  const status = function () {
    if (!navigator.onLine) return;
    const place = (bus ? "&bus=" + encodeURIComponent(bus) : "") + (venue ? "&venue=" + encodeURIComponent(venue) : "");
    fetch("/checkins/status?day=" + encodeURIComponent(day) + place, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (answer) {
        answer.people.forEach(function (key) { if (byKey[key] && byKey[key].dataset.done !== "1") mark(byKey[key], true); });
        answer.declined.forEach(function (key) { if (byKey[key]) declare(byKey[key]); });
        document.getElementById("all").textContent = answer.checkedIn + " / " + answer.expected;
        refresh();
      })
      .catch(function () {});
  };
  window.addEventListener("online", send);
  window.addEventListener("offline", refresh);
  setInterval(send, 5000);
  setInterval(status, 5000);

  // The camera, where the browser reads QR codes itself.
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    const button = document.getElementById("camera-button");
    button.hidden = false;
    button.addEventListener("click", function () {
      const video = document.getElementById("camera");
      const detector = new BarcodeDetector({ formats: ["qr_code"] });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        video.play();
        let seen = "";
        const look = function () {
          detector.detect(video).then(function (codes) {
            if (codes.length && codes[0].rawValue !== seen) { seen = codes[0].rawValue; record(seen); }
          }).catch(function () {}).then(function () { setTimeout(look, 300); });
        };
        look();
      }).catch(function () { button.hidden = true; });
    });
  }
  refresh();
  send();
  status();
})();
