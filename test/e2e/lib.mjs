// Shared helpers of the end-to-end scripts: assertions, a hermetic
// environment for the server, argument parsing, and a raw line-based
// JSON-RPC client over a spawned server's stdio that keeps every byte the
// server writes.

import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The untrusted-data fence around seller text (core/buyer/prompt.go).
export const FENCE_OPEN = "<<<UNTRUSTED_SELLER_TEXT>>>";
export const FENCE_CLOSE = "<<<END_UNTRUSTED_SELLER_TEXT>>>";

// The tools the server must expose.
export const TOOL_NAMES = [
  "approve_and_sign",
  "ask_seller",
  "cancel_session",
  "cascade",
  "cast_vote",
  "confirm_delivery",
  "counter",
  "discover_sellers",
  "get_decision",
  "get_reputation",
  "get_session",
  "list_sessions",
  "open_decision",
  "open_dispute",
  "propose_deal",
  "verify_artifact",
];

// CheckError is a failed assertion.
export class CheckError extends Error {
  constructor(message) {
    super(message);
    this.name = "CheckError";
  }
}

// check throws a CheckError with msg (and a short dump of detail) unless cond.
export function check(cond, msg, detail) {
  if (!cond) {
    throw new CheckError(detail === undefined ? msg : `${msg}\n  got: ${dump(detail)}`);
  }
}

// equal checks actual === expected.
export function equal(actual, expected, what) {
  if (actual !== expected) {
    throw new CheckError(`${what}: want ${dump(expected)}, got ${dump(actual)}`);
  }
}

// dump renders a value for an error message, bounded in size.
export function dump(v) {
  let s;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  if (s === undefined) s = String(v);
  return s.length > 1500 ? s.slice(0, 1500) + `… (${s.length} chars)` : s;
}

// parseArgs reads --name value pairs (and bare --flag as true).
export function parseArgs(argv, known) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new CheckError(`unexpected argument ${a}`);
    const name = a.slice(2);
    if (!known.includes(name)) throw new CheckError(`unknown flag --${name} (known: ${known.join(", ")})`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) {
      out[name] = true;
    } else {
      out[name] = next;
      i++;
    }
  }
  return out;
}

// workDir makes a private temporary directory under E2E_WORK_DIR (or the
// system temp dir).
export function workDir(prefix) {
  return mkdtempSync(join(process.env.E2E_WORK_DIR || tmpdir(), `${prefix}-`));
}

// serverEnv is the whole environment the server gets: PATH, plus a data
// directory and HOME inside dir so nothing outside it is read or written.
// No CLINCH_* variable of the caller leaks in.
export function serverEnv(dir, extra = {}) {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, CLINCH_DATA_DIR: dir, ...extra };
}

// withTimeout rejects when p has not settled within ms.
export function withTimeout(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckError(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// toolText joins the text content of a tool result.
export function toolText(result) {
  return (result?.content ?? [])
    .filter((c) => c.type === "text")
    .map((c) => c.text)
    .join("\n");
}

// checkTextCarriesJSON asserts that a tool result's one text block is a
// one-line summary followed by exactly the JSON of its structured content
// (the spec's SHOULD for tools with structured output).
export function checkTextCarriesJSON(name, result) {
  const text = toolText(result);
  const nl = text.indexOf("\n");
  check(nl > 0, `${name}: text content has no summary line before the JSON`, text);
  let parsed;
  try {
    parsed = JSON.parse(text.slice(nl + 1));
  } catch (e) {
    throw new CheckError(`${name}: the text after the summary line is not JSON: ${e.message}\n${text}`);
  }
  equal(JSON.stringify(canonical(parsed)), JSON.stringify(canonical(result.structuredContent)), `${name}: JSON in the text block equals structuredContent`);
}

// canonical sorts object keys recursively, for comparing JSON values.
function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  return v;
}

// unfence returns the text between the untrusted-text fence markers of s,
// which must be exactly one fenced block.
export function unfence(s, what) {
  const head = FENCE_OPEN + "\n";
  const tail = "\n" + FENCE_CLOSE;
  check(typeof s === "string" && s.startsWith(head) && s.endsWith(tail), `${what}: not a fenced block`, s);
  return s.slice(head.length, s.length - tail.length);
}

// promptText joins the text of every message of a prompt result.
export function promptText(result) {
  return (result?.messages ?? [])
    .map((m) => (m.content?.type === "text" ? m.content.text : ""))
    .join("\n");
}

// fencedRanges returns [start, end) index pairs of every fenced region of s
// (from the end of an open marker to the start of the next close marker).
// It throws when markers are unbalanced or nested.
export function fencedRanges(s, what) {
  const ranges = [];
  let at = 0;
  for (;;) {
    const open = s.indexOf(FENCE_OPEN, at);
    const nextClose = s.indexOf(FENCE_CLOSE, at);
    if (open < 0) {
      check(nextClose < 0, `${what}: a close marker without an open marker`, s);
      return ranges;
    }
    check(nextClose < 0 || nextClose > open, `${what}: a close marker before the open marker`, s);
    const start = open + FENCE_OPEN.length;
    const close = s.indexOf(FENCE_CLOSE, start);
    check(close >= 0, `${what}: an open marker is never closed`, s);
    const inner = s.slice(start, close);
    check(!inner.includes(FENCE_OPEN), `${what}: nested open marker inside a fence`, s);
    ranges.push([start, close]);
    at = close + FENCE_CLOSE.length;
  }
}

// assertOnlyInsideFence checks that every occurrence of needle in s lies in
// a fenced region, and that it occurs at least once.
export function assertOnlyInsideFence(s, needle, what) {
  const ranges = fencedRanges(s, what);
  let count = 0;
  for (let i = s.indexOf(needle); i >= 0; i = s.indexOf(needle, i + 1)) {
    count++;
    const inside = ranges.some(([a, b]) => i >= a && i + needle.length <= b);
    check(inside, `${what}: ${JSON.stringify(needle)} appears outside the untrusted fence at offset ${i}`, s);
  }
  check(count > 0, `${what}: expected ${JSON.stringify(needle)} inside the fence, found none`, s);
  return count;
}

// RawStdioClient runs the server as a child process and speaks JSON-RPC 2.0,
// one JSON object per line, keeping every byte of stdout and stderr.
export class RawStdioClient {
  constructor(bin, args, env) {
    this.stdout = [];
    this.stderr = [];
    this.pending = new Map();
    this.nextId = 1;
    this.buf = "";
    this.notifications = [];
    this.proc = spawn(bin, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code, signal) => resolve({ code, signal }));
    });
    this.proc.on("error", (err) => this.failAll(err));
    this.proc.stdin.on("error", () => {}); // EPIPE after exit shows up in the pending requests
    this.proc.stderr.on("data", (d) => this.stderr.push(d));
    this.proc.stdout.on("data", (d) => {
      this.stdout.push(d);
      this.buf += d.toString("utf8");
      let nl;
      while ((nl = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.onLine(line);
      }
    });
    this.exited.then(({ code, signal }) => this.failAll(new CheckError(`server exited (code ${code}, signal ${signal})`)));
  }

  onLine(line) {
    if (line.trim() === "") return;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch {
      return; // reported by assertStdoutIsJSONRPC
    }
    if (msg && msg.id !== undefined && msg.id !== null && this.pending.has(msg.id)) {
      const { resolve } = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      resolve(msg);
    } else if (msg && msg.method) {
      this.notifications.push(msg);
    }
  }

  failAll(err) {
    for (const { reject } of this.pending.values()) reject(err);
    this.pending.clear();
  }

  // send writes one raw line (used for malformed input too).
  send(line) {
    this.proc.stdin.write(line + "\n");
  }

  // call sends a request and resolves with the whole response message.
  call(method, params, ms = 20000) {
    const id = this.nextId++;
    return this.callRaw(id, JSON.stringify({ jsonrpc: "2.0", id, method, params }), ms);
  }

  // callRaw sends one line as is and resolves with the response to id.
  callRaw(id, line, ms = 20000) {
    const p = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.send(line);
    return withTimeout(p, ms, `request id ${JSON.stringify(id)}`);
  }

  // result is call that insists on a result (not a JSON-RPC error).
  async result(method, params, ms) {
    const msg = await this.call(method, params, ms);
    check(msg.error === undefined, `${method}: unexpected JSON-RPC error`, msg.error);
    return msg.result;
  }

  // callTool returns the tool result of tools/call.
  tool(name, args, ms) {
    return this.result("tools/call", { name, arguments: args }, ms);
  }

  notify(method, params) {
    this.send(JSON.stringify({ jsonrpc: "2.0", method, ...(params ? { params } : {}) }));
  }

  async initialize(clientName) {
    const r = await this.result("initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: clientName, version: "0.0.0" },
    });
    this.notify("notifications/initialized");
    return r;
  }

  // close ends stdin (the server exits on EOF) and waits for the exit,
  // killing the process by PID after ms.
  async close(ms = 10000) {
    this.proc.stdin.end();
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), ms);
    const st = await this.exited;
    clearTimeout(timer);
    return st;
  }

  stdoutBytes() {
    return Buffer.concat(this.stdout);
  }

  stderrBytes() {
    return Buffer.concat(this.stderr);
  }
}

// assertStdoutIsJSONRPC checks that every stdout byte belongs to a line that
// is one JSON-RPC 2.0 message, and returns the number of messages.
export function assertStdoutIsJSONRPC(bytes) {
  const text = bytes.toString("utf8");
  check(Buffer.from(text, "utf8").equals(bytes), "stdout is not valid UTF-8");
  if (text.length === 0) return 0;
  check(text.endsWith("\n"), "stdout ends with a partial line", text.slice(-200));
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, i) => {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      throw new CheckError(`stdout line ${i + 1} is not JSON: ${dump(line)}`);
    }
    check(msg !== null && typeof msg === "object" && !Array.isArray(msg), `stdout line ${i + 1} is not a JSON object`, line);
    equal(msg.jsonrpc, "2.0", `stdout line ${i + 1} jsonrpc`);
    const isResponse = "id" in msg && ("result" in msg || "error" in msg) && !("method" in msg);
    const isRequestOrNote = typeof msg.method === "string" && !("result" in msg) && !("error" in msg);
    check(isResponse || isRequestOrNote, `stdout line ${i + 1} is neither a response nor a request/notification`, line);
    if ("error" in msg) {
      check(Number.isInteger(msg.error?.code) && typeof msg.error?.message === "string",
        `stdout line ${i + 1} has a malformed error object`, line);
    }
  });
  return lines.length;
}

// main runs fn, prints a clear failure and exits non-zero on any error.
export function main(name, fn) {
  const started = Date.now();
  fn()
    .then(() => {
      process.exitCode = 0;
    })
    .catch((err) => {
      const what = err instanceof CheckError ? "assertion failed" : "error";
      console.error(`${name}: FAIL (${what}) after ${((Date.now() - started) / 1000).toFixed(1)}s: ${err?.message ?? err}`);
      if (!(err instanceof CheckError) && err?.stack) console.error(err.stack);
      process.exitCode = 1;
    })
    .finally(() => {
      // Leave no handle open: child processes are closed by each script.
      setTimeout(() => process.exit(process.exitCode ?? 1), 100).unref();
    });
}
