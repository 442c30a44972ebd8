// The chat page's client: join a room over the WebSocket at /rooms/{room}, then say things.
"use strict";

const page = document.body.dataset;
const log = document.getElementById("log");
const joinForm = document.getElementById("join");
const sayForm = document.getElementById("say");
let socket = null;

function show(text, kind) {
  const item = document.createElement("li");
  item.textContent = text; // textContent: a message is never read as HTML
  if (kind) item.className = kind;
  log.appendChild(item);
}

function roomUrl(room) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${page.root}/rooms/${encodeURIComponent(room)}`;
}

joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const room = joinForm.elements.room.value;
  const name = joinForm.elements.name.value;
  if (socket) socket.close();
  socket = new WebSocket(roomUrl(room));
  socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "join", name })));
  socket.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "joined") show(`${data.name} joined (${data.members.join(", ")})`, "notice");
    else if (data.type === "said") show(`${data.name}: ${data.text}`);
    else if (data.type === "left") show(`${data.name} left`, "notice");
    else if (data.type === "error") show(`error ${data.code}: ${data.detail}`, "error");
  });
  socket.addEventListener("close", (close) => show(`disconnected (${close.code})`, "notice"));
});

sayForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = sayForm.elements.text.value;
  if (socket && socket.readyState === WebSocket.OPEN && text) {
    socket.send(JSON.stringify({ type: "say", text }));
    sayForm.elements.text.value = "";
  }
});
