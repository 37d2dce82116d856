"use strict";
// The viewer: plain DOM, the API's JSON, and server-sent events read through fetch (EventSource cannot send a key).
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem("vireo-key"), cursor: null, stream: null, frameCursor: null };

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${state.key}` } });
  if (response.status === 401) { signOut("The key was refused."); throw new Error("unauthorized"); }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.detail || problem.title || `HTTP ${response.status}`);
  }
  return response.status === 204 ? null : response.json();
}

function show(...ids) {
  for (const id of ["sign-in", "videos", "results", "video"]) $(id).hidden = !ids.includes(id);
  const signedIn = !ids.includes("sign-in");
  $("search").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
}

function signOut(message) {
  sessionStorage.removeItem("vireo-key");
  state.key = null;
  forgetImages();
  stopStream();
  show("sign-in");
  if (message) $("key").setCustomValidity(message), $("key").reportValidity(), $("key").setCustomValidity("");
}

function stopStream() { if (state.stream) { state.stream.abort(); state.stream = null; } }

// Thumbnails are fetched with the key (an <img> cannot send it) and shown from blob URLs; a few at a time, only once
// their frame scrolls into view, so a long video stays within the key's rate limit.
const images = { cache: new Map(), queue: [], active: 0, parallel: 3 };

function thumbnail(videoId, index) {
  const key = `${videoId}/${index}`;
  if (!images.cache.has(key)) {
    images.cache.set(key, new Promise((resolve, reject) => {
      images.queue.push({ path: `/v1/videos/${encodeURIComponent(videoId)}/frames/${index}/image`, resolve, reject, tries: 0 });
      pumpImages();
    }));
  }
  return images.cache.get(key);
}

function pumpImages() {
  while (images.active < images.parallel && images.queue.length) {
    const job = images.queue.shift();
    images.active++;
    fetchImage(job).finally(() => { images.active--; pumpImages(); });
  }
}

async function fetchImage(job) {
  for (;;) {
    const response = await fetch(job.path, { headers: { Authorization: `Bearer ${state.key}` } }).catch(() => null);
    if (response && response.ok) return job.resolve(URL.createObjectURL(await response.blob()));
    // A frame just analysed may have its thumbnail still on the way to the blob store; 429 says when to come back.
    const status = response ? response.status : 0;
    const again = status === 429 ? job.tries < 5 : (status === 404 || status === 0 || status >= 500) && job.tries < 2;
    if (!again) return job.reject(new Error(`no thumbnail (HTTP ${status})`));
    job.tries++;
    const wait = status === 429 ? Number(response.headers.get("Retry-After") || 1) * 1000 : 1000 * job.tries;
    await new Promise((done) => setTimeout(done, wait));
  }
}

function forgetImages() {
  for (const url of images.cache.values()) url.then((u) => URL.revokeObjectURL(u), () => {});
  images.cache.clear();
  images.queue.length = 0;
}

const onScreen = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    onScreen.unobserve(entry.target);
    entry.target.startLoading();
  }
}, { rootMargin: "200px" });

/** An <img> of a frame's thumbnail that loads once it comes near the screen; then() runs after it has loaded. */
function lazyImage(videoId, index, alt, then) {
  const img = el("img", { alt, decoding: "async" });
  img.startLoading = () => thumbnail(videoId, index).then((url) => {
    img.addEventListener("load", () => then && then(img), { once: true });
    img.src = url;
  }, () => img.replaceWith(el("span", { className: "no-image", textContent: "no picture" })));
  onScreen.observe(img);
  return img;
}

/** Columns and rows of a frame's tile grid: the factorisation of the tile count closest to the frame's shape, as the tiler chose it. */
function gridOf(count, width, height) {
  let best = [count, 1];
  let gap = Infinity;
  for (let columns = 1; columns <= count; columns++) {
    if (count % columns) continue;
    const rows = count / columns;
    const d = Math.abs(width / height - columns / rows);
    if (d < gap) { gap = d; best = [columns, rows]; }
  }
  return best;
}

const decision = (t) => `${t.compressed ? "compressed, 64 tokens" : "kept, 256 tokens"}, p=${t.probability.toFixed(2)}`;

/** The router's decision per tile, drawn over the picture: the grid tiles in place, the whole-frame thumbnail as a badge. */
function drawOverlay(figure, frame, img) {
  const whole = frame.tiles.length > 1 ? frame.tiles[frame.tiles.length - 1] : null;
  const grid = whole ? frame.tiles.slice(0, -1) : frame.tiles;
  const [columns, rows] = gridOf(grid.length, img.naturalWidth, img.naturalHeight);
  const overlay = el("div", { className: "overlay" });
  overlay.style.gridTemplateColumns = `repeat(${columns}, 1fr)`;
  overlay.style.gridTemplateRows = `repeat(${rows}, 1fr)`;
  overlay.setAttribute("aria-hidden", "true");
  for (const t of grid) {
    overlay.append(el("div", { className: `cell ${t.compressed ? "compressed" : "kept"}`, title: `tile ${t.tile}: ${decision(t)}`, textContent: t.probability.toFixed(2) }));
  }
  if (whole) overlay.append(el("span", { className: `whole ${whole.compressed ? "compressed" : "kept"}`, title: `whole frame: ${decision(whole)}`,
    textContent: `whole ${whole.compressed ? "64" : "256"} · ${whole.probability.toFixed(2)}` }));
  figure.append(overlay);
  const squeezed = frame.tiles.filter((t) => t.compressed).length;
  figure.setAttribute("aria-label", `Frame ${frame.index}, ${columns} by ${rows} tiles: ${squeezed} of ${frame.tiles.length} tiles compressed`);
  figure.classList.add("drawn");
}

const when = (iso) => new Date(iso).toLocaleString();
const percent = (p) => `${Math.round(p * 100)}%`;

async function loadVideos(more = false) {
  if (!more) { state.cursor = null; $("video-rows").replaceChildren(); }
  const page = await api(`/v1/videos?limit=20${state.cursor ? `&cursor=${state.cursor}` : ""}`);
  for (const v of page.items) {
    $("video-rows").append(el("tr", {},
      el("td", {}, el("a", { href: `#video/${v.id}`, textContent: v.id })),
      el("td", { textContent: v.state }),
      el("td", { textContent: percent(v.progress) }),
      el("td", { textContent: when(v.createdAt) })));
  }
  state.cursor = page.nextCursor;
  $("more").hidden = !page.nextCursor;
}

function upload(event) {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) return;
  const body = new FormData();
  const options = { sampling: { fps: Number($("fps").value) } };
  if ($("max-tiles").value) options.maxTiles = Number($("max-tiles").value);
  body.append("options", JSON.stringify(options));
  body.append("file", file);
  const request = new XMLHttpRequest();
  request.open("POST", "/v1/videos");
  request.setRequestHeader("Authorization", `Bearer ${state.key}`);
  request.setRequestHeader("Idempotency-Key", crypto.randomUUID());
  $("upload-progress").hidden = false;
  request.upload.onprogress = (e) => { if (e.lengthComputable) $("upload-progress").value = e.loaded / e.total; };
  request.onload = () => {
    const answer = JSON.parse(request.responseText || "{}");
    if (request.status === 202) {
      $("upload-status").textContent = "Uploaded; analysing.";
      location.hash = `#video/${answer.id}`;
    } else {
      $("upload-status").textContent = `Refused: ${answer.detail || answer.title || request.status}`;
    }
    $("upload-progress").hidden = true;
  };
  request.onerror = () => { $("upload-status").textContent = "The upload failed."; $("upload-progress").hidden = true; };
  $("upload-status").textContent = "Uploading…";
  request.send(body);
}

function frameItem(frame, videoId) {
  const figure = el("figure", { className: "frame-view", tabIndex: 0 });
  figure.append(lazyImage(videoId, frame.index, `Frame ${frame.index} at ${frame.timestampSeconds.toFixed(2)} s`, (img) => drawOverlay(figure, frame, img)));
  const tiles = el("div", { className: "tiles", role: "list", ariaLabel: "Router decision per tile" });
  frame.tiles.forEach((t, i) => {
    const thumbnail = i === frame.tiles.length - 1 && frame.tiles.length > 1;
    tiles.append(el("div", {
      className: `tile ${t.compressed ? "compressed" : "kept"}`, role: "listitem",
      title: `${thumbnail ? "thumbnail" : `tile ${t.tile}`}: ${decision(t)}`,
      textContent: `${thumbnail ? "thumb" : `#${t.tile}`} ${t.probability.toFixed(2)}`,
    }));
  });
  return el("li", { id: `frame-${frame.index}`, tabIndex: -1 },
    el("h4", { textContent: `Frame ${frame.index} at ${frame.timestampSeconds.toFixed(2)} s — ${frame.tokensAfter}/${frame.tokensBefore} visual tokens` }),
    el("div", { className: "frame-body" }, figure, el("div", { className: "frame-text" },
      el("p", { textContent: frame.caption }),
      frame.text ? el("p", {}, el("strong", { textContent: "Text: " }), frame.text) : "",
      tiles)));
}

function renderVideo(v) {
  $("video-title").textContent = `Video ${v.id}`;
  $("video-state").textContent = `${v.state}${v.reason ? `: ${v.reason}` : ""} — ${v.framesDone}${v.framesExpected ? ` of ${v.framesExpected}` : ""} frames`;
  $("video-progress").value = v.progress;
  const totals = $("video-totals");
  totals.replaceChildren();
  const add = (term, value) => totals.append(el("dt", { textContent: term }), el("dd", { textContent: value }));
  add("Created", when(v.createdAt));
  if (v.result) {
    const r = v.result;
    add("Frames", String(r.frames));
    if (r.tokensBefore != null) add("Visual tokens", `${r.tokensAfter} of ${r.tokensBefore} (${r.tokensSaved} saved, ${percent(r.tokensSaved / Math.max(1, r.tokensBefore))})`);
    if (r.texts.length) add("Texts", r.texts.join(" · ") + (r.textsOmitted ? ` (and ${r.textsOmitted} more)` : ""));
    const side = (m) => m ? `${m.name} (${m.kind}), ${m.dtype} on ${m.device}` : "not recorded";
    for (const run of r.models || []) {
      const same = run.vision && run.language && run.vision.name === run.language.name && run.vision.kind === run.language.kind
        && run.vision.dtype === run.language.dtype && run.vision.device === run.language.device;
      const frames = r.models.length > 1 ? ` — ${run.frames} frames` : "";
      add("Model", same ? side(run.vision) + frames : `vision ${side(run.vision)}; language ${side(run.language)}${frames}`);
    }
    $("timeline").replaceChildren(...r.timeline.map((s) => el("li", {},
      el("a", { href: `#video/${v.id}/${s.firstFrame}` },
        lazyImage(v.id, s.firstFrame, ""),
        el("span", { textContent: `${s.startSeconds.toFixed(1)}–${s.endSeconds.toFixed(1)} s` })),
      el("div", { textContent: s.caption }))));
  }
}

async function loadFrames(id, more = false) {
  if (!more) { state.frameCursor = null; $("frames").replaceChildren(); }
  const page = await api(`/v1/videos/${id}/frames?limit=100${state.frameCursor ? `&cursor=${state.frameCursor}` : ""}`);
  $("frames").append(...page.items.map((f) => frameItem(f, id)));
  state.frameCursor = page.nextCursor;
  $("more-frames").hidden = !page.nextCursor;
}

// Follows the video's events until it completes or fails. A stream that ends before that (a proxy or a restarted API
// cutting it) is opened again from the last event id, so nothing is missed or shown twice.
async function follow(id) {
  stopStream();
  const controller = new AbortController();
  state.stream = controller;
  let lastId = null;
  for (let retries = 0; ; retries++) {
    try {
      const headers = { Authorization: `Bearer ${state.key}` };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch(`/v1/videos/${id}/events`, { headers, signal: controller.signal });
      if (!response.ok && response.status !== 429 && response.status < 500) {
        $("video-state").textContent = `Live progress stopped: ${(await response.json()).detail || response.status}`;
        return;
      }
      if (response.ok) {
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const type = (block.match(/^event: (.*)$/m) || [])[1] || "message";
            lastId = (block.match(/^id: (.*)$/m) || [])[1] || lastId;
            retries = 0;
            const data = JSON.parse(block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n") || "null");
            if (type === "frame" && !$(`frame-${data.index}`)) $("frames").append(frameItem(data, id));
            if (type === "progress") {
              $("video-state").textContent = `${data.state} — ${data.framesDone}${data.framesExpected ? ` of ${data.framesExpected}` : ""} frames`;
              $("video-progress").value = data.progress;
            }
            if (type === "completed" || type === "failed") { renderVideo(await api(`/v1/videos/${id}`)); return; }
            if (type === "deleted") { $("video-state").textContent = "The video was deleted."; return; }
          }
        }
      }
    } catch (e) {
      if (e.name === "AbortError") return;
    }
    if (controller.signal.aborted) return;
    $("video-state").textContent = "Live progress interrupted; reconnecting…";
    await new Promise((resolve) => setTimeout(resolve, Math.min(30000, 1000 * 2 ** retries)));
    if (controller.signal.aborted) return;
  }
}

async function openVideo(id, frame) {
  show("video");
  $("timeline").replaceChildren();
  renderVideo(await api(`/v1/videos/${id}`));
  await loadFrames(id);
  $("more-frames").onclick = () => loadFrames(id, true);
  if (frame != null) {
    while (!$(`frame-${frame}`) && state.frameCursor) await loadFrames(id, true);
    const target = $(`frame-${frame}`);
    if (target) { target.classList.add("target"); target.scrollIntoView({ block: "center" }); target.focus(); }
  }
  follow(id);
}

async function search(q) {
  show("results");
  const found = await api(`/v1/search?q=${encodeURIComponent(q)}&limit=50`);
  $("hits").replaceChildren(...found.items.map((h) => {
    const snippet = el("span");
    // The snippet's text is shown as text; only the highlight markers become elements.
    h.snippet.split(/(<mark>.*?<\/mark>)/g).forEach((part) => snippet.append(
      part.startsWith("<mark>") ? el("mark", { textContent: part.slice(6, -7) }) : document.createTextNode(part)));
    return el("li", {}, el("a", { href: `#video/${h.videoId}/${h.frameIndex}`, textContent: `${h.videoId} at ${h.timestampSeconds.toFixed(1)} s` }), " ", snippet);
  }));
  if (!found.items.length) $("hits").append(el("li", { textContent: "Nothing matched." }));
}

async function route() {
  if (!state.key) return show("sign-in");
  stopStream();
  const [, view, id, frame] = location.hash.split("/").length > 1 ? [null, ...location.hash.slice(1).split("/")] : [null, null];
  try {
    if (view === "video" && id) await openVideo(id, frame != null ? Number(frame) : null);
    else if (location.hash.startsWith("#search/")) await search(decodeURIComponent(location.hash.slice(8)));
    else { show("videos"); await loadVideos(); }
  } catch (e) {
    if (e.message !== "unauthorized") alert(e.message);
  }
}

$("key-form").onsubmit = (e) => {
  e.preventDefault();
  state.key = $("key").value.trim();
  sessionStorage.setItem("vireo-key", state.key);
  $("key").value = "";
  route();
};
$("sign-out").onclick = () => signOut();
$("overlay-toggle").onchange = (e) => $("frames").classList.toggle("no-overlay", !e.target.checked);
$("upload").onsubmit = upload;
$("more").onclick = () => loadVideos(true);
$("search").onsubmit = (e) => { e.preventDefault(); location.hash = `#search/${encodeURIComponent($("q").value)}`; };
window.addEventListener("hashchange", route);
route();
