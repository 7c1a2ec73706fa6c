// secrets.mjs checks that clinch-mcp never discloses the user's identity
// seed or a blind credential. It runs the server over stdio with a known key
// file (made by `clinch-mcp keygen`) and a known credential for
// cloud-credits.anp, negotiates to a signed deal (which needs the
// credential), reads every prompt and resource, triggers errors, and keeps
// every byte of stdout and stderr (--log-level debug). Then it asserts that
// no form of either secret appears anywhere, and that stdout carries only
// JSON-RPC 2.0 lines. A second server with a wrong credential shows the
// credential is really used (the seller refuses).
//
// Usage: node secrets.mjs --bin PATH

import { spawnSync } from "node:child_process";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import {
  RawStdioClient,
  TOOL_NAMES,
  assertStdoutIsJSONRPC,
  check,
  equal,
  main,
  parseArgs,
  promptText,
  serverEnv,
  toolText,
  workDir,
} from "./lib.mjs";

const CREDENTIAL = "demo-credential-cloud-credits"; // the one cloud-credits.anp accepts
const WRONG_CREDENTIAL = "e2e-wrong-credential-7Q2xVb9Lm4";
const SELLER = "cloud-credits.anp";
const BUDGET = 45;

// keygen runs `clinch-mcp keygen --out FILE` and returns the seed hex it wrote.
function keygen(bin, dir) {
  const file = join(dir, "identity-known.key");
  const r = spawnSync(bin, ["keygen", "--out", file], { env: serverEnv(dir), encoding: "utf8", timeout: 20000 });
  equal(r.status, 0, `keygen exit status (stderr: ${r.stderr})`);
  equal(statSync(file).mode & 0o777, 0o600, "key file mode");
  const seed = readFileSync(file, "utf8").trim();
  check(/^[0-9a-f]{64}$/.test(seed), "key file holds 64 hex characters", seed.length);
  check(!(r.stdout + r.stderr).includes(seed), "keygen printed the seed");
  return { file, seed, printed: r.stdout + r.stderr };
}

// publicKeyHex derives the Ed25519 public key of a 32-byte seed.
function publicKeyHex(seed) {
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  const pub = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }));
  return Buffer.from(pub.export({ format: "jwk" }).x, "base64url").toString("hex");
}

// secretForms lists every spelling of the secrets worth looking for.
function secretForms(seedHex, pubHex, credentials) {
  const seed = Buffer.from(seedHex, "hex");
  const priv = Buffer.concat([seed, Buffer.from(pubHex, "hex")]);
  const forms = [
    ["seed hex", seedHex],
    ["seed HEX", seedHex.toUpperCase()],
    ["seed base64", seed.toString("base64").replace(/=+$/, "")],
    ["seed base64url", seed.toString("base64url")],
    ["private key hex", priv.toString("hex")],
    ["private key base64", priv.toString("base64").replace(/=+$/, "")],
  ];
  // Any 20-hex-character piece of the seed (a truncated log of it).
  for (let i = 0; i + 20 <= seedHex.length; i += 4) forms.push([`seed hex [${i}:${i + 20}]`, seedHex.slice(i, i + 20)]);
  for (const [name, c] of credentials) {
    forms.push([`${name}`, c], [`${name} base64`, Buffer.from(c).toString("base64").replace(/=+$/, "")],
      [`${name} hex`, Buffer.from(c).toString("hex")]);
  }
  return forms;
}

// findLeaks returns "where: form" for every form found in text.
function findLeaks(where, text, forms) {
  const lower = text.toLowerCase();
  const hits = [];
  for (const [name, value] of forms) {
    const hay = /^[0-9a-f]+$/i.test(value) ? lower : text;
    const needle = /^[0-9a-f]+$/i.test(value) ? value.toLowerCase() : value;
    const at = hay.indexOf(needle);
    if (at >= 0) hits.push(`${where}: ${name} at offset ${at}: …${text.slice(Math.max(0, at - 60), at + needle.length + 20)}…`);
  }
  return hits;
}

// decodedStrings returns every string value inside the stdout messages.
function decodedStrings(stdout) {
  const out = [];
  const walk = (v) => {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.entries(v).forEach(([k, x]) => (out.push(k), walk(x)));
  };
  for (const line of stdout.toString("utf8").split("\n")) {
    if (line.trim() !== "") walk(JSON.parse(line));
  }
  return out.join("\n");
}

// filesUnder lists the files below dir, recursively.
function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []);
}

function blindKeysFile(dir, credential) {
  const file = join(dir, "blind-keys.json");
  writeFileSync(file, JSON.stringify({ [SELLER]: credential }), { mode: 0o600 });
  return file;
}

function serverArgs(keyFile, bkFile) {
  return ["serve", "--transport", "stdio", "--store", "memory:", "--key-file", keyFile, "--blind-keys", bkFile, "--log-level", "debug"];
}

// errorCases counts the failures this run provokes.
let errorCases = 0;

// expectToolError calls a tool that must fail with a domain error code.
async function expectToolError(c, name, args, code) {
  const r = await c.tool(name, args);
  equal(r.isError, true, `${name}(${JSON.stringify(args)}) isError`);
  check(toolText(r).startsWith(code), `${name} error text starts with ${code}`, toolText(r));
  errorCases++;
  return r;
}

// expectRPCError sends a request that must fail at the JSON-RPC level.
async function expectRPCError(c, method, params) {
  const msg = await c.call(method, params);
  check(msg.error && Number.isInteger(msg.error.code), `${method}: expected a JSON-RPC error`, msg);
  errorCases++;
  return msg.error;
}

async function negotiate(c) {
  const disc = await c.tool("discover_sellers", { category: "services" });
  check(!disc.isError && JSON.stringify(disc.structuredContent ?? {}).includes(SELLER),
    "discover_sellers services lists cloud-credits.anp", disc);

  const p = await c.tool("propose_deal", { seller: SELLER, item: "100 compute credits", max_budget: BUDGET, category: "services" });
  check(!p.isError, `propose_deal ${SELLER} (needs the credential): ${toolText(p)}`);
  const id = p.structuredContent.session_id;
  equal(p.structuredContent.state, "COUNTERED", "propose_deal state");

  // Errors on the live session: above budget (nothing sent), bad arguments.
  await expectToolError(c, "counter", { session_id: id, price: BUDGET + 1 }, "over_budget");
  const bad = await c.tool("counter", { session_id: id, price: 10, unexpected_field: "x" });
  equal(bad.isError, true, "counter with an unknown argument isError");
  errorCases++;
  await expectToolError(c, "approve_and_sign", { session_id: id }, "wrong_state");

  let snap = p.structuredContent;
  for (const offer of [30, 34, 38, 41, 44]) {
    const ask = snap.last_seller_price?.amount;
    const price = ask !== undefined && ask <= offer ? ask : offer; // accept when the seller is already there
    const r = await c.tool("counter", { session_id: id, price });
    check(!r.isError, `counter ${price}: ${toolText(r)}`);
    snap = r.structuredContent;
    if (snap.state === "CONFIRMED") break;
  }
  equal(snap.state, "CONFIRMED", `state after countering (seller last asked ${snap.last_seller_price?.display})`);
  check(snap.agreed_price.amount <= BUDGET, "agreed price within budget", snap.agreed_price);

  const s = await c.tool("approve_and_sign", { session_id: id });
  check(!s.isError, `approve_and_sign: ${toolText(s)}`);
  const artifactID = s.structuredContent.artifact_id ?? s.structuredContent.session?.artifact_id;
  check(artifactID, "approve_and_sign returned an artifact_id", s.structuredContent);
  const v = await c.tool("verify_artifact", { artifact_id: artifactID });
  equal(v.structuredContent?.valid, true, "verify_artifact valid");
  return { id, artifactID, price: snap.agreed_price };
}

async function readEverything(c, id, artifactID) {
  const tl = await c.result("tools/list", {});
  equal(tl.tools.length, TOOL_NAMES.length, "tools/list count");
  const pl = await c.result("prompts/list", {});
  check(pl.prompts.length >= 2, "prompts/list has negotiation_turn and buyer_brief", pl);
  await c.result("resources/templates/list", {});
  await c.result("resources/list", {});
  const turn = await c.result("prompts/get", { name: "negotiation_turn", arguments: { session_id: id } });
  check(promptText(turn).includes(id), "negotiation_turn prompt text", turn);
  const brief = await c.result("prompts/get", { name: "buyer_brief", arguments: { request: "100 cloud compute credits for at most 45 dollars" } });
  check(promptText(brief).length > 100, "buyer_brief prompt text", brief);
  for (const uri of [`clinch://sessions/${id}`, `clinch://sessions/${id}/transcript`, `clinch://artifacts/${artifactID}`]) {
    const r = await c.result("resources/read", { uri });
    equal(r.contents?.length, 1, `${uri} contents`);
    JSON.parse(r.contents[0].text); // each resource is JSON
  }
  const art = JSON.parse((await c.result("resources/read", { uri: `clinch://artifacts/${artifactID}` })).contents[0].text);
  equal(art.deal?.seller_domain, SELLER, "artifact seller");
  // The same artifact with a lower price must not verify.
  art.deal.price.amount -= 100;
  const forged = await c.tool("verify_artifact", { artifact: JSON.stringify(art) });
  check(forged.structuredContent?.valid === false && forged.structuredContent?.problem, "a tampered artifact does not verify", forged);
  errorCases++;
  const sessions = await c.tool("list_sessions", {});
  check(!sessions.isError, "list_sessions", sessions);
  return 3;
}

async function triggerErrors(c, id) {
  const unknown = "0123456789abcdef0123456789abcdef";
  await expectToolError(c, "get_session", { session_id: unknown }, "unknown_session");
  await expectToolError(c, "counter", { session_id: id, price: 40 }, "wrong_state");
  await expectToolError(c, "cancel_session", { session_id: unknown, reason: "e2e" }, "unknown_session");
  await expectToolError(c, "verify_artifact", { artifact_id: unknown }, "unknown_session");
  await expectRPCError(c, "tools/call", { name: "no_such_tool", arguments: {} });
  await expectRPCError(c, "resources/read", { uri: `clinch://artifacts/${unknown}` });
  await expectRPCError(c, "prompts/get", { name: "negotiation_turn", arguments: { session_id: "not-a-session" } });
  await expectRPCError(c, "no/such_method", {});
  c.send("{this is not json");
  errorCases++;
  const oops = await c.callRaw("x-1", '{"jsonrpc":"2.0","id":"x-1","method":"tools/call","params":{"name":"counter","arguments":"oops"}}');
  check(oops.error || oops.result?.isError, "tools/call with non-object arguments fails", oops);
  errorCases++;
  await c.result("ping", {}); // the server is still fine afterwards
}

// runServer runs fn against a fresh server and returns its captured output.
async function runServer(bin, args, env, fn) {
  const c = new RawStdioClient(bin, args, env);
  let value;
  try {
    await c.initialize("clinch-e2e-secrets");
    value = await fn(c);
  } finally {
    const st = await c.close();
    if (value !== undefined) equal(st.code, 0, "server exit code after stdin closed");
  }
  return { value, stdout: c.stdoutBytes(), stderr: c.stderrBytes() };
}

main("secrets", async () => {
  const started = Date.now();
  const { bin } = parseArgs(process.argv.slice(2), ["bin"]);
  check(typeof bin === "string", "--bin PATH is required");
  const dir = workDir("secrets");
  const key = keygen(bin, dir);
  const pubHex = publicKeyHex(Buffer.from(key.seed, "hex"));
  check(key.printed.includes(pubHex), "keygen printed the public key of the seed it wrote", key.printed);
  const bk = blindKeysFile(dir, CREDENTIAL);

  const good = await runServer(bin, serverArgs(key.file, bk), serverEnv(dir), async (c) => {
    const deal = await negotiate(c);
    const resources = await readEverything(c, deal.id, deal.artifactID);
    await triggerErrors(c, deal.id);
    return { ...deal, resources };
  });

  // The same key with a wrong credential: the seller must refuse.
  const wrongDir = workDir("secrets-wrong");
  const wrongBK = blindKeysFile(wrongDir, WRONG_CREDENTIAL);
  const wrong = await runServer(bin, serverArgs(key.file, wrongBK), serverEnv(wrongDir), async (c) => {
    // The seller answers REJECT: either a seller_refused tool error or a
    // session that ended at turn 1 because the seller rejected it.
    const r = await c.tool("propose_deal", { seller: SELLER, item: "100 compute credits", max_budget: BUDGET });
    const s = r.structuredContent ?? {};
    const refused = r.isError ? toolText(r).startsWith("seller_refused")
      : s.state === "CANCELLED" && /reject/i.test(s.reason ?? "") && s.turn === 1;
    check(refused, "a wrong credential must make cloud-credits.anp refuse", r);
    return r.isError ? "seller_refused" : `${s.state} (${s.reason})`;
  });

  // The server really ran with our key: its logs name the identity by a
  // short public-key prefix.
  check(good.stderr.toString("utf8").includes(pubHex.slice(0, 12)),
    `server logs do not mention the identity ${pubHex.slice(0, 12)}: was --key-file used?`);

  const forms = secretForms(key.seed, pubHex, [["credential", CREDENTIAL], ["wrong credential", WRONG_CREDENTIAL]]);
  // The detector must see a planted secret, or a pass would mean nothing.
  check(findLeaks("self-test", `x${key.seed.slice(8, 40).toUpperCase()}y`, forms).length > 0, "leak detector self-test (seed piece)");
  check(findLeaks("self-test", Buffer.from(CREDENTIAL).toString("base64"), forms).length > 0, "leak detector self-test (credential)");

  const leaks = [];
  let lines = 0;
  for (const [name, run] of [["main server", good], ["wrong-credential server", wrong]]) {
    lines += assertStdoutIsJSONRPC(run.stdout);
    leaks.push(...findLeaks(`${name} stdout`, run.stdout.toString("utf8"), forms));
    leaks.push(...findLeaks(`${name} stdout (decoded JSON strings)`, decodedStrings(run.stdout), forms));
    leaks.push(...findLeaks(`${name} stderr`, run.stderr.toString("utf8"), forms));
  }
  for (const d of [dir, wrongDir]) {
    for (const f of filesUnder(d)) {
      if (f === key.file || f === bk || f === wrongBK) continue; // the secrets themselves
      leaks.push(...findLeaks(`file ${f}`, readFileSync(f).toString("latin1"), forms));
    }
  }
  check(leaks.length === 0, `secrets disclosed:\n  ${leaks.join("\n  ")}`);

  const secs = ((Date.now() - started) / 1000).toFixed(2);
  console.log(`secrets: ok: ${SELLER} SIGNED at ${good.value.price.display} with the blind credential (wrong credential => ${wrong.value}), ` +
    `${good.value.resources} resources + 2 prompts read, ${errorCases} error cases, ${lines} stdout lines all JSON-RPC 2.0, ` +
    `${good.stderr.length + wrong.stderr.length} stderr bytes (debug), ${forms.length} secret forms absent everywhere, ${secs}s`);
});
