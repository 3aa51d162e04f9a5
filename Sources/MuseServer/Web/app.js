"use strict";
// The Muse web chat: conversations kept by the server, replies streamed as OpenAI chunks with the
// agent trace alongside. No framework, no network beyond this server.

const $ = (selector) => document.querySelector(selector);
const state = { conversations: [], current: null, mode: "instant", controller: null };

// ---------- the server ----------

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = localStorage.getItem("muse.apiKey");
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers() });
  if (response.status === 401) {
    const key = prompt("This server needs an API key:");
    if (key) { localStorage.setItem("muse.apiKey", key.trim()); return api(path, options); }
  }
  if (!response.ok) throw new Error(await explain(response));
  return response;
}

// A failed response in words a person understands.
async function explain(response) {
  let detail = "";
  try { detail = (await response.json()).error.message; } catch (_) {}
  switch (response.status) {
    case 401: return "The server needs a valid API key.";
    case 404: return "That conversation no longer exists.";
    case 413: return "That message is too long for this server.";
    case 429: return "The server is busy with other requests. Try again in a moment.";
    case 504: return "The answer took longer than the server allows.";
    default: return detail ? `Something went wrong: ${detail}` : `The server answered with an error (${response.status}).`;
  }
}

// ---------- markdown (escaped first; only a safe subset becomes markup) ----------

function escapeHTML(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function inline(text) {
  return text
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
    .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>');
}

function markdown(source) {
  const out = [];
  const blocks = escapeHTML(source).split(/```/);
  blocks.forEach((block, i) => {
    if (i % 2 === 1) {
      const body = block.replace(/^[\w+-]*\n/, "");
      out.push(`<pre><code>${body}</code></pre>`);
      return;
    }
    let list = null;
    const close = () => { if (list) { out.push(`</${list}>`); list = null; } };
    for (const paragraph of block.split(/\n{2,}/)) {
      for (const line of paragraph.split("\n")) {
        let m;
        if ((m = line.match(/^(#{1,3})\s+(.*)$/))) { close(); out.push(`<h${m[1].length + 2}>${inline(m[2])}</h${m[1].length + 2}>`); }
        else if ((m = line.match(/^\s*[-*]\s+(.*)$/))) { if (list !== "ul") { close(); out.push("<ul>"); list = "ul"; } out.push(`<li>${inline(m[1])}</li>`); }
        else if ((m = line.match(/^\s*\d+[.)]\s+(.*)$/))) { if (list !== "ol") { close(); out.push("<ol>"); list = "ol"; } out.push(`<li>${inline(m[1])}</li>`); }
        else if (line.trim()) { close(); out.push(`<p>${inline(line)}</p>`); }
      }
      close();
    }
  });
  return out.join("");
}

// ---------- conversations ----------

async function loadConversations() {
  state.conversations = await (await api("/api/conversations")).json();
  const nav = $("#conversations");
  nav.replaceChildren(...state.conversations.map((c) => {
    const row = document.createElement("div");
    row.className = "conversation" + (c.id === state.current ? " current" : "");
    const link = document.createElement("a");
    link.href = "#" + c.id;
    link.textContent = c.title || "New conversation";
    link.onclick = (e) => { e.preventDefault(); openConversation(c.id); };
    const remove = document.createElement("button");
    remove.textContent = "×";
    remove.title = "Delete this conversation";
    remove.onclick = async () => {
      if (!confirm("Delete this conversation?")) return;
      await api("/api/conversations/" + c.id, { method: "DELETE" });
      if (state.current === c.id) newChat();
      loadConversations();
    };
    row.append(link, remove);
    return row;
  }));
}

async function openConversation(id) {
  if (state.controller) return;
  try {
    const detail = await (await api("/api/conversations/" + id)).json();
    state.current = id;
    location.hash = id;
    const list = $("#messages");
    list.replaceChildren();
    for (const m of detail.messages) {
      if (m.role === "user") addUser(m.content);
      else {
        const view = addAssistant();
        for (const event of m.trace || []) view.trace(event);
        if (m.reasoning) view.reasoning(m.reasoning);
        view.finish(m.content, m.note);
      }
    }
    loadConversations();
  } catch (error) {
    showError(error.message);
  }
}

function newChat() {
  state.current = null;
  history.replaceState(null, "", location.pathname);
  $("#messages").replaceChildren(emptyNote());
  loadConversations();
  $("#input").focus();
}

function emptyNote() {
  const div = document.createElement("div");
  div.id = "empty";
  div.textContent = "Ask anything. Your conversations are kept on this server.";
  return div;
}

// ---------- messages ----------

function addUser(text) {
  $("#empty")?.remove();
  const div = document.createElement("div");
  div.className = "message user";
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.textContent = text;
  div.append(bubble);
  $("#messages").append(div);
  scrollDown();
}

// An assistant message: a reasoning panel and an agents panel that appear when there is something
// to show, and the answer.
function addAssistant() {
  $("#empty")?.remove();
  const div = document.createElement("div");
  div.className = "message assistant";
  const answer = document.createElement("div");
  answer.className = "answer pending";
  div.append(answer);
  $("#messages").append(div);
  let text = "", reasoningPanel = null, tracePanel = null;
  const agents = new Map();

  function panel(kind, title, open) {
    const details = document.createElement("details");
    details.className = kind;
    details.open = open;
    const summary = document.createElement("summary");
    summary.textContent = title;
    details.append(summary);
    div.insertBefore(details, answer);
    return details;
  }
  function traceArea() {
    if (!tracePanel) {
      tracePanel = panel("trace", "Agents", true);
      const grid = document.createElement("div"); grid.className = "agents";
      const events = document.createElement("div"); events.className = "events";
      tracePanel.append(grid, events);
    }
    return tracePanel;
  }
  function agentCard(id, role) {
    if (!agents.has(id)) {
      const card = document.createElement("div");
      card.className = "agent";
      card.dataset.agent = id;
      card.innerHTML = `<span class="status">working…</span><div class="role"></div><div class="text"></div>`;
      card.querySelector(".role").textContent = `Agent ${id + 1}` + (role ? ` · ${role}` : "");
      traceArea().querySelector(".agents").append(card);
      agents.set(id, card);
    }
    return agents.get(id);
  }
  // Agents still at work when the reply ends early say how it ended.
  function settle(status) {
    for (const card of agents.values()) {
      const label = card.querySelector(".status");
      if (label.textContent === "working…") label.textContent = status;
    }
  }
  function note(text) {
    const line = document.createElement("div");
    line.textContent = text;
    traceArea().querySelector(".events").append(line);
  }

  return {
    content(piece) { text += piece; answer.innerHTML = markdown(text); scrollDown(); },
    reasoning(piece) {
      if (!reasoningPanel) {
        reasoningPanel = panel("reasoning", "Reasoning", false);
        const body = document.createElement("div"); body.className = "reasoning-text";
        reasoningPanel.append(body);
      }
      reasoningPanel.querySelector(".reasoning-text").textContent += piece;
    },
    trace(event) {
      switch (event.type) {
        case "agent_started": agentCard(event.agent, event.role); break;
        case "answer": case "reasoning":
          if (event.agent !== null && event.agent !== undefined) {
            // A Contemplating agent reasons, then sends its answer line in one piece.
            const box = agentCard(event.agent).querySelector(".text");
            if (event.type === "reasoning") box.dataset.reasoned = "1";
            else if (box.dataset.reasoned === "1") { box.dataset.reasoned = "answered"; box.textContent += "\nAnswer: "; }
            box.textContent += event.text;
            box.scrollTop = box.scrollHeight;
          }
          break;
        case "agent_finished": {
          const r = event.agent, card = agentCard(r.id, r.role), box = card.querySelector(".text");
          if (!box.dataset.reasoned) box.textContent = r.answer;
          card.querySelector(".status").textContent = r.failure ? "failed" : `${r.tokens} tokens · ${r.seconds.toFixed(1)} s`;
          if (r.failure) card.classList.add("failed");
          break;
        }
        case "vote": note(`Vote: ${Object.entries(event.counts).map(([k, v]) => `${k} ×${v}`).join(", ")} → ${event.winner}`); break;
        case "distilled": note("Distilled: " + event.summary); break;
        case "refining": note("Writing the final answer…"); break;
        case "tool_call": note(`Tool call: ${event.name}(${event.arguments})`); break;
        case "tool_result": note(`${event.name} ${event.is_error ? "failed" : "returned"}: ${event.content}`); break;
        case "tool_call_unreadable": note(`A tool call could not be read: ${event.error}`); break;
        case "subtask_started": agentCard(event.agent, event.role).querySelector(".text").textContent = event.task; break;
        case "done": if (tracePanel) tracePanel.querySelector("summary").textContent = `Agents · ${event.mode}, ${event.seconds.toFixed(1)} s`; break;
      }
    },
    finish(final, noteText) {
      answer.classList.remove("pending");
      if (noteText) settle(noteText === "stopped" ? "stopped" : "failed");
      if (final !== undefined && final !== null && (final || !text)) { text = final; }
      answer.innerHTML = markdown(text);
      if (noteText) {
        const n = document.createElement("div");
        n.className = noteText === "stopped" ? "note" : "error";
        n.textContent = noteText === "stopped" ? "Stopped." : noteText;
        div.append(n);
      }
    },
    error(message) {
      answer.classList.remove("pending");
      settle("failed");
      const n = document.createElement("div");
      n.className = "error";
      n.textContent = message;
      div.append(n);
    },
  };
}

function showError(message) {
  const view = addAssistant();
  view.error(message);
}

function scrollDown() {
  const list = $("#messages");
  list.scrollTop = list.scrollHeight;
}

// ---------- sending ----------

async function send(text) {
  setBusy(true);
  addUser(text);
  const view = addAssistant();
  state.controller = new AbortController();
  try {
    if (!state.current) {
      const created = await (await api("/api/conversations", { method: "POST", body: JSON.stringify({}) })).json();
      state.current = created.id;
      location.hash = created.id;
    }
    const body = { content: text, mode: state.mode };
    if (state.mode === "contemplating") body.agents = Number($("#agents").value) || 4;
    const response = await api(`/api/conversations/${state.current}/messages`,
                               { method: "POST", body: JSON.stringify(body), signal: state.controller.signal });
    await readStream(response, view);
    view.finish();
  } catch (error) {
    if (error.name === "AbortError") view.finish(undefined, "stopped");
    else view.error(error.message.startsWith("Failed to fetch") ? "The server cannot be reached." : error.message);
  } finally {
    state.controller = null;
    setBusy(false);
    loadConversations().catch(() => {});
  }
}

// Server-sent events: `data: {chunk}` lines, `data: [DONE]` at the end, an error object on failure.
async function readStream(response, view) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, "");
      buffer = buffer.slice(newline + 1);
      if (!line.startsWith("data:")) continue;
      const payload = line.slice(5).trim();
      if (!payload || payload === "[DONE]") continue;
      const chunk = JSON.parse(payload);
      if (chunk.error) { view.error("Something went wrong: " + chunk.error.message); continue; }
      if (chunk.muse && chunk.muse.trace) view.trace(chunk.muse.trace);
      const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
      if (delta && delta.reasoning_content) view.reasoning(delta.reasoning_content);
      if (delta && delta.content) view.content(delta.content);
    }
  }
}

function setBusy(busy) {
  $("#send").hidden = busy;
  $("#stop").hidden = !busy;
  $("#input").disabled = busy;
  if (!busy) $("#input").focus();
}

// ---------- wiring ----------

$("#composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("#input").value.trim();
  if (!text || state.controller) return;
  $("#input").value = "";
  send(text);
});
$("#input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("#composer").requestSubmit(); }
});
$("#stop").addEventListener("click", () => state.controller && state.controller.abort());
$("#new-chat").addEventListener("click", newChat);
window.addEventListener("hashchange", () => {
  const id = location.hash.slice(1);
  if (id && id !== state.current) openConversation(id);
});
for (const button of document.querySelectorAll("#modes button")) {
  button.addEventListener("click", () => {
    state.mode = button.dataset.mode;
    for (const b of document.querySelectorAll("#modes button")) {
      b.classList.toggle("selected", b === button);
      b.setAttribute("aria-checked", String(b === button));
    }
    $("#agents-field").hidden = state.mode !== "contemplating";
  });
}

(async () => {
  try {
    const models = await (await api("/v1/models")).json();
    $("#model").textContent = models.data.map((m) => m.id).join(", ");
    await loadConversations();
    if (location.hash.length > 1) await openConversation(location.hash.slice(1));
  } catch (error) {
    showError(error.message.startsWith("Failed to fetch") ? "The server cannot be reached." : error.message);
  }
})();
