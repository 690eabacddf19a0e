// The drawing page: a canvas for mouse, touch and pen (pointer events), a file and camera picker and a
// drop zone; each picture goes to POST /api/predict?details=1 and the answer fills the digit, the ten
// bars and the 28x28 input. While drawing, at most one request is in flight and a new one follows
// DEBOUNCE_MS after the last change. The pad's data-state says "blank", "waiting" (a request is due
// or in flight), "answered" or "problem" (the browser test waits on it). A picture the not-a-digit check
// flags (a letter, a drawing, several digits) says "probably not a digit", with its score and threshold in
// small text and on hover. Everything comes from this server; nothing is fetched elsewhere.
"use strict";

const DEBOUNCE_MS = 120;
const STROKE_FRACTION = 1 / 14;   // pen width as a fraction of the canvas side
const SEND_SIDE = 128;            // drawings go as 128x128 px, as NIST scanned MNIST's digits: quick to read
const CELL = 6;                   // the 28x28 input is shown at 5 px per pixel plus a 1 px grid line (169 px square, as demo.css shows it)

const pad = document.getElementById("pad");
const ink = pad.getContext("2d");
const shown = document.getElementById("input");
const card = document.querySelector("section:last-of-type");
const statusLine = document.getElementById("status");
const digitOut = document.getElementById("digit");
const bars = document.getElementById("bars");

let blank = true;        // nothing drawn or loaded since the last clear
let upload = null;       // the picked file, sent as is until the user draws over it
let timer = null, due = false, busy = false, again = false;
let last = null;         // the previous pointer position while drawing

function sizePad() {
  const side = Math.round(pad.getBoundingClientRect().width * (window.devicePixelRatio || 1));
  if (pad.width === side) return;
  const old = blank ? null : copyOf(pad, pad.width);
  pad.width = pad.height = side;
  paper();
  if (old) ink.drawImage(old, 0, 0, side, side);
  ink.lineWidth = side * STROKE_FRACTION;
  ink.lineCap = ink.lineJoin = "round";
  ink.strokeStyle = "#111";
}

function copyOf(canvas, side) {   // a square canvas of side px holding canvas, scaled
  const copy = document.createElement("canvas");
  copy.width = copy.height = side;
  copy.getContext("2d").drawImage(canvas, 0, 0, side, side);
  return copy;
}

function paper() {
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width, (event.clientY - box.top) * pad.height / box.height];
}

function dot([x, y]) {
  ink.beginPath();
  ink.arc(x, y, ink.lineWidth / 2, 0, 2 * Math.PI);
  ink.fillStyle = ink.strokeStyle;
  ink.fill();
}

function line(from, to) {
  ink.beginPath();
  ink.moveTo(...from);
  ink.lineTo(...to);
  ink.stroke();
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  last = point(event);
  dot(last);
  blank = false; upload = null;
  schedule();
});

pad.addEventListener("pointermove", (event) => {
  if (!last) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const each of events.length ? events : [event]) {
    const next = point(each);
    line(last, next);
    last = next;
  }
  schedule();
});

for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => { if (last) { last = null; schedule(); } });
}

document.getElementById("clear").addEventListener("click", clear);

function clear() {
  paper();
  blank = true; upload = null;
  clearTimeout(timer);
  due = false;
  showBlank();
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(send, DEBOUNCE_MS);
  due = true;
  pad.dataset.state = "waiting";
}

async function send() {
  due = false;
  if (blank) return showBlank();
  if (busy) { again = true; return; }
  busy = true;
  const picture = upload || await new Promise((done) => copyOf(pad, SEND_SIDE).toBlob(done, "image/png"));
  const form = new FormData();
  form.append("image", picture, upload ? upload.name : "drawing.png");
  let show;
  try {
    const answer = await fetch("/api/predict?details=1", { method: "POST", body: form });
    const body = await answer.json();
    show = answer.ok ? () => showAnswer(body[0]) : () => showProblem(body.error);
  } catch (err) {
    show = () => showProblem(`the server did not answer (${err.message})`);
  }
  busy = false;
  if (!blank) show();
  if (again) { again = false; send(); }
}

function settle(state) {   // the state once no newer picture is due or on its way
  if (!due && !busy && !again) pad.dataset.state = state;
}

function showBlank() {
  pad.dataset.state = "blank";
  card.className = "card stale";
  digitOut.textContent = "?";
  statusLine.textContent = "No ink yet: draw a digit.";
  statusLine.title = "";
  fillBars(new Array(10).fill(0));
  drawInput(null);
}

function showProblem(problem) {
  settle("problem");
  card.className = "card stale error";
  digitOut.textContent = "?";
  // "drawing.png: no ink found (blank image)" reads better without the file name of a drawing
  statusLine.textContent = upload ? problem : problem.replace(/^drawing\.png: /, "");
  statusLine.title = "";
  fillBars(new Array(10).fill(0));
  drawInput(null);
}

function showAnswer(record) {
  settle("answered");
  card.className = record.not_a_digit ? "card unsure not-digit" : record.unsure ? "card unsure" : "card";
  digitOut.textContent = record.digit;
  statusLine.textContent = record.not_a_digit ? "Probably not a digit: draw one digit alone."
    : `${(record.confidence * 100).toFixed(1)}% sure` +
      (record.top3[1].probability >= 0.05 ? `; else ${record.top3[1].digit}` : "") +
      (record.unsure ? " · unsure: write it again more clearly" : "");
  statusLine.title = record.not_a_digit ? notDigitReason(record) : "";
  if (record.not_a_digit) {
    const small = document.createElement("small");
    small.textContent = ` (${notDigitReason(record)})`;
    statusLine.appendChild(small);
  }
  fillBars(record.probabilities, record.digit);
  drawInput(record.input_28x28);
}

function notDigitReason(record) {   // why the check flagged it: several pieces, its score, or uneven strokes
  return record.digit_pieces >= 2 ? `${record.digit_pieces} digit-sized pieces side by side`
    : record.not_a_digit_score > record.not_a_digit_threshold
      ? `not-a-digit score ${record.not_a_digit_score} over the threshold ${record.not_a_digit_threshold}`
      : `strokes ${record.stroke_spread} times wider in one place than in another: not drawn with a pen`;
}

function fillBars(probabilities, top) {
  if (!bars.children.length) {
    for (let d = 0; d < 10; d++) {
      const item = document.createElement("li");
      item.innerHTML = `<span>${d}</span><span class="bar"><span class="fill"></span></span><span class="value"></span>`;
      bars.appendChild(item);
    }
  }
  probabilities.forEach((p, d) => {
    const item = bars.children[d];
    item.className = d === top ? "top" : "";
    item.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    item.querySelector(".value").textContent = `${(p * 100).toFixed(1)}%`;
  });
}

function drawInput(levels) {
  shown.width = shown.height = 28 * CELL + 1;
  const pen = shown.getContext("2d");
  pen.fillStyle = "#333";
  pen.fillRect(0, 0, shown.width, shown.height);
  for (let i = 0; i < 784; i++) {
    const v = levels ? levels[i] : 0;
    pen.fillStyle = `rgb(${v},${v},${v})`;
    pen.fillRect(1 + (i % 28) * CELL, 1 + Math.floor(i / 28) * CELL, CELL - 1, CELL - 1);
  }
}

// --- pictures from files, the camera and drag and drop

for (const id of ["file", "camera"]) {
  document.getElementById(id).addEventListener("change", (event) => {
    if (event.target.files[0]) usePicture(event.target.files[0]);
    event.target.value = "";
  });
}

const drop = document.getElementById("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files[0]) usePicture(event.dataTransfer.files[0]);
});

async function usePicture(file) {
  due = true;
  pad.dataset.state = "waiting";
  paper();
  try {   // shown on the pad, scaled to fit; the file itself is what the server reads
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    const w = bitmap.width * scale, h = bitmap.height * scale;
    ink.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  } catch (err) { /* a format this browser cannot show: the server still reads it, or says why not */ }
  blank = false; upload = file;
  schedule();
}

// --- which model answers

async function describeModel() {
  const line = document.getElementById("model");
  try {
    const { model, calibration, not_a_digit } = await (await fetch("/api/health")).json();
    const accuracy = model.test_accuracy === null ? "test accuracy " + model.accuracy_note
      : `${(model.test_accuracy * 100).toFixed(2)}% test accuracy`;
    line.textContent = `Model ${model.file} · sha256 ${model.sha256} · ${model.modified} · ${accuracy}` +
      ` · confidence ${calibration.calibrated ? "calibrated" : "uncalibrated"}` +
      ` · not-a-digit check ${not_a_digit.checked ? "on" : "off"}`;
  } catch (err) {
    line.textContent = "The server did not say which model answers.";
  }
}

window.addEventListener("resize", sizePad);
sizePad();
showBlank();
describeModel();
