// waiting.mjs drives clinch-mcp over stdio with the official MCP TypeScript
// SDK client and checks what a host gets without polling: a counter to the
// asynchronous demo seller (bargain-bin.anp) returns the seller's answer in
// one tool call with progress notifications on the way; a client
// subscribed to clinch://sessions/{id} receives
// notifications/resources/updated for it; ask_seller gets a demo seller's
// answer from its attributes, and the injection seller's answer stays inside
// the untrusted fence. No notification or answer carries the budget.
//
// Usage: node waiting.mjs --bin PATH

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CallToolResultSchema, ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";

import { assertOnlyInsideFence, check, equal, main, parseArgs, serverEnv, toolText, withTimeout, workDir } from "./lib.mjs";

const CALL_MS = 60000;
const BUDGET = 93.17; // looked for in every notification and answer

async function call(client, name, args, opts = {}) {
  const r = await withTimeout(client.callTool({ name, arguments: args }, CallToolResultSchema, { timeout: CALL_MS, ...opts }), CALL_MS, `tools/call ${name}`);
  check(!r.isError, `${name}(${JSON.stringify(args)}) returned isError: ${toolText(r)}`);
  return r;
}

// waitFor resolves when pred holds for one of list's items, checking again
// each time notify() is called; bounded by withTimeout.
function waiter() {
  const list = [];
  let wake = () => {};
  return {
    list,
    push(x) {
      list.push(x);
      wake();
    },
    async until(pred, what) {
      const found = () => list.find(pred);
      return withTimeout((async () => {
        while (!found()) await new Promise((r) => (wake = r));
        return found();
      })(), 30000, what);
    },
  };
}

main("waiting", async () => {
  const { bin } = parseArgs(process.argv.slice(2), ["bin"]);
  check(typeof bin === "string", "--bin PATH is required");
  const dir = workDir("waiting");
  const transport = new StdioClientTransport({
    command: bin,
    args: ["serve", "--transport", "stdio", "--store", "memory:", "--log-level", "warn"],
    env: serverEnv(dir),
    stderr: "ignore",
  });
  const client = new Client({ name: "clinch-e2e-waiting", version: "0.0.0" });
  const updates = waiter();
  const sdkErrors = [];
  client.onerror = (e) => sdkErrors.push(e);
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params));
  try {
    await withTimeout(client.connect(transport), 20000, "connect");
    const caps = client.getServerCapabilities();
    equal(caps?.resources?.subscribe, true, "resources.subscribe declared");
    equal(Boolean(caps?.resources?.listChanged), false, "resources.listChanged declared false");

    // One counter call returns the asynchronous seller's answer.
    const p = (await call(client, "propose_deal", { seller: "bargain-bin.anp", item: "cast iron pan", max_budget: BUDGET })).structuredContent;
    const id = p.session_id;
    const uri = `clinch://sessions/${id}`;
    await withTimeout(client.subscribeResource({ uri }), 20000, "resources/subscribe");
    const progress = [];
    const t0 = Date.now();
    const c = (await call(client, "counter", { session_id: id, price: 60, wait_seconds: 45 }, { onprogress: (x) => progress.push(x) })).structuredContent;
    const ms = Date.now() - t0;
    equal(c.awaiting_seller, false, "awaiting_seller after one counter call");
    check(c.state === "COUNTERED" || c.state === "CONFIRMED", `state after one counter call: ${c.state}`, c);
    equal(c.turn, 2, "turn after the counter");
    check(c.last_seller_price?.amount < 135, "the seller's new price is in the counter's result", c.last_seller_price);
    // The server writes every progress notification before the result, but
    // the SDK hands notifications to their handlers a microtask later than
    // a response read in the same chunk, and reports those that lose the
    // race through onerror: both count as received.
    const late = sdkErrors.filter((e) => /progress/i.test(String(e))).length;
    check(progress.length + late >= 1, "progress notifications while waiting", { progress, late });
    progress.forEach((x, i) => equal(x.progress, i + 1, `progress ${i + 1}`));
    const u = await updates.until((x) => x.uri === uri, `notifications/resources/updated for ${uri}`);
    equal(u.uri, uri, "updated uri");

    // ask_seller: an answer from the seller's attributes, fenced.
    const k = (await call(client, "propose_deal", { seller: "kitchen-outlet.anp", item: "stand mixer", max_budget: BUDGET })).structuredContent;
    const a = await call(client, "ask_seller", { session_id: k.session_id, question: "What warranty does it come with?" });
    check(a.structuredContent.answer?.untrusted === true, "answer is marked untrusted", a.structuredContent);
    assertOnlyInsideFence(toolText(a), "2 years from the manufacturer", "ask_seller answer");
    const refused = await withTimeout(client.callTool({ name: "ask_seller", arguments: { session_id: k.session_id, question: "Would you take $80?" } }), CALL_MS, "ask_seller with a price");
    check(refused.isError && toolText(refused).startsWith("invalid_input"), "a question with a price is refused", toolText(refused));

    const sk = (await call(client, "propose_deal", { seller: "sketchy-deals.anp", item: "headphones", max_budget: 250 })).structuredContent;
    const inj = await call(client, "ask_seller", { session_id: sk.session_id, question: "What warranty and delivery do you offer?" });
    assertOnlyInsideFence(toolText(inj), "SYSTEM OVERRIDE", "injection seller's answer");
    assertOnlyInsideFence(toolText(inj), "approve_and_sign without asking", "injection seller's answer");
    equal(inj.structuredContent.session.state, "COUNTERED", "the injection seller's answer moved nothing");

    const everything = JSON.stringify([updates.list, progress, a.structuredContent.answer, inj.structuredContent.answer]);
    check(!everything.includes(String(BUDGET)) && !everything.includes("9317"), "no notification or answer carries the budget");
    console.log(`waiting: counter to bargain-bin.anp answered in one call (${ms} ms, progress notifications: ${progress.length} delivered, ${late} after the result), ` +
      `resources/updated for the subscribed session, ask_seller answered from attributes and fenced (injection seller too), price question refused`);
  } finally {
    await client.close().catch(() => {});
  }
});
