// Drives the served web page's script against a fake DOM and fetch: a double-click on Reserve
// sends one request; a retry after a failed request reuses its Idempotency-Key; a changed form
// gets a new key. Usage: node reserve_once.cjs <page.html>. Exit code 0 = pass.
"use strict";
const fs = require("fs");
const vm = require("vm");
const assert = require("assert");

const html = fs.readFileSync(process.argv[2], "utf8");
const script = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join("\n");

const elements = {};
const el = (id) => (elements[id] ||= {
  id, value: "", checked: false, disabled: false, textContent: "", className: "", innerHTML: "",
  onclick: null, onchange: null, addEventListener() {}, focus() {},
});
const posts = [];
let failNext = true;
async function fetch(path, opts = {}) {
  const method = opts.method || "GET";
  const answer = (status, body) => ({
    ok: status < 400, status, statusText: "", text: async () => JSON.stringify(body), json: async () => body,
  });
  if (method === "POST" && path === "/v1/reservations") {
    posts.push({ key: opts.headers["Idempotency-Key"], body: opts.body });
    await new Promise((r) => setTimeout(r, 50));
    if (failNext) { failNext = false; throw new TypeError("network error"); }
    return answer(202, { reservationId: "r-" + posts.length, status: "PENDING", amount: 1 });
  }
  if (path === "/health") return answer(200, { status: "ok" });
  if (path === "/v1/loyalty") return answer(200, { points: 0 });
  return answer(200, { items: [] });
}
const store = {};
const sandbox = {
  document: { getElementById: el, addEventListener() {} },
  localStorage: { getItem: (k) => store[k] ?? null, setItem: (k, v) => { store[k] = String(v); } },
  location: { search: "?user=alice", hash: "" },
  history: { replaceState() {} },
  URLSearchParams, crypto: globalThis.crypto, fetch, setInterval() {}, setTimeout, console,
};
vm.runInNewContext(script, sandbox);

const settle = () => new Promise((r) => setTimeout(r, 200));
(async () => {
  el("placeId").value = "p1";
  el("rooms").value = "1";
  const reserve = el("reserve");
  // A double-click while the first request runs: one request (it fails: network error).
  reserve.onclick();
  reserve.onclick();
  await settle();
  assert.strictEqual(posts.length, 1, "a double-click must send one request");
  assert.strictEqual(reserve.disabled, false, "the button is enabled again afterwards");
  // The customer retries the same form: the same key, so the server books at most once.
  reserve.onclick();
  await settle();
  assert.strictEqual(posts.length, 2);
  assert.ok(posts[0].key, "a key is sent");
  assert.strictEqual(posts[1].key, posts[0].key, "a retry reuses the submission's key");
  // A different stay is a new submission.
  el("rooms").value = "2";
  reserve.onclick();
  await settle();
  assert.strictEqual(posts.length, 3);
  assert.notStrictEqual(posts[2].key, posts[0].key, "a changed form gets a new key");
  console.log("web page: one request per submission");
})().catch((e) => { console.error(e.message); process.exit(1); });
