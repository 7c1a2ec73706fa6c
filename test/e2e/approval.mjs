// approval.mjs checks that approve_and_sign asks the person, not the model,
// with the official MCP TypeScript SDK client's elicitation handler over
// stdio: accept signs; decline signs nothing and no COMMIT (no buyer
// signature) ever reaches the seller; an answer outside the requested form
// signs nothing; a client without elicitation under --approval elicit is
// refused clearly. The question names seller, item, quantity, price and the delivery deadline and
// never the budget.
//
// Usage: node approval.mjs --bin PATH

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

import { check, equal, main, parseArgs, serverEnv, toolText, withTimeout, workDir } from "./lib.mjs";

const CALL_MS = 20000;
const BUDGET = 99.5; // its display, 99.50, must never appear in a question

// connect starts a fresh server over stdio; answer, when given, is the
// person's answer to every elicitation (the questions are kept in asked).
async function connect(bin, serverArgs, answer) {
  const dir = workDir("approval");
  const transport = new StdioClientTransport({
    command: bin,
    args: ["serve", "--transport", "stdio", "--store", "memory:", "--log-level", "warn", ...serverArgs],
    env: serverEnv(dir),
    stderr: "pipe",
  });
  const capabilities = answer ? { elicitation: {} } : {};
  const client = new Client({ name: "clinch-e2e-approval", version: "0.0.0" }, { capabilities });
  const asked = [];
  if (answer) {
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params);
      return answer;
    });
  }
  await withTimeout(client.connect(transport), CALL_MS, "connect");
  return { client, asked };
}

async function call(client, name, args) {
  return withTimeout(client.callTool({ name, arguments: args }), CALL_MS, `tools/call ${name}`);
}

async function ok(client, name, args) {
  const r = await call(client, name, args);
  check(!r.isError, `${name} failed: ${toolText(r)}`);
  return r.structuredContent;
}

async function confirmed(client) {
  let s = await ok(client, "propose_deal", { seller: "kitchen-outlet.anp", item: "stand mixer", max_budget: BUDGET });
  for (const price of [60, 70, 80, 94]) s = await ok(client, "counter", { session_id: s.session_id, price });
  equal(s.state, "CONFIRMED", "state after the recipe");
  return s;
}

async function transcriptTypes(client, id) {
  const res = await withTimeout(client.readResource({ uri: `clinch://sessions/${id}/transcript` }), CALL_MS, "transcript");
  const text = res.contents[0].text;
  return [...text.matchAll(/"type":\s*"([A-Z]+)"/g)].map((m) => m[1]);
}

function checkQuestion(q) {
  check(typeof q?.message === "string", "elicitation message", q);
  for (const want of ["kitchen-outlet.anp", "stand mixer", "Quantity: 1", "94.00", "must deliver by"]) {
    check(q.message.includes(want), `the question names ${want}`, q.message);
  }
  check(!q.message.includes("99.50") && !q.message.includes("99.5"), "the question does not name the budget", q.message);
  equal(q.requestedSchema?.properties?.approve?.type, "boolean", "requested schema: approve is a boolean");
}

async function accepted(bin) {
  const { client, asked } = await connect(bin, [], { action: "accept", content: { approve: true } });
  try {
    const s = await confirmed(client);
    const out = await ok(client, "approve_and_sign", { session_id: s.session_id });
    equal(out.session.state, "SIGNED", "accept: state");
    equal(asked.length, 1, "accept: questions asked");
    checkQuestion(asked[0]);
    const ap = out.session.approvals ?? [];
    equal(ap.length, 1, "accept: approvals recorded");
    equal(ap[0].via, "person", "accept: approval via");
    equal(ap[0].outcome, "approved", "accept: approval outcome");
    check(ap[0].by.includes("clinch-e2e-approval"), "accept: approval by the client's person", ap[0]);
    check((await transcriptTypes(client, s.session_id)).includes("COMMIT"), "accept: COMMIT sent");
    return s.session_id;
  } finally {
    await client.close();
  }
}

async function refused(bin, answer, wantDetail) {
  const { client, asked } = await connect(bin, [], answer);
  try {
    const s = await confirmed(client);
    const before = await transcriptTypes(client, s.session_id);
    const r = await call(client, "approve_and_sign", { session_id: s.session_id });
    equal(r.isError, true, `${answer.action}: isError`);
    check(toolText(r).startsWith("not_approved:"), `${answer.action}: not_approved`, toolText(r));
    equal(asked.length, 1, `${answer.action}: questions asked`);
    const after = await ok(client, "get_session", { session_id: s.session_id });
    equal(after.state, "CONFIRMED", `${answer.action}: state stays CONFIRMED`);
    equal(after.artifact_id, undefined, `${answer.action}: no artifact`);
    const types = await transcriptTypes(client, s.session_id);
    equal(types.join(","), before.join(","), `${answer.action}: transcript unchanged`);
    check(!types.includes("COMMIT"), `${answer.action}: the seller never saw a COMMIT (a buyer signature)`, types);
    const ap = after.approvals ?? [];
    equal(ap.length, 1, `${answer.action}: refusal recorded`);
    equal(ap[0].outcome, wantDetail, `${answer.action}: recorded outcome`);
    return types.length;
  } finally {
    await client.close();
  }
}

async function noElicitation(bin) {
  const { client } = await connect(bin, ["--approval", "elicit"], null);
  try {
    const s = await confirmed(client);
    const r = await call(client, "approve_and_sign", { session_id: s.session_id });
    equal(r.isError, true, "no elicitation: isError");
    check(toolText(r).startsWith("approval_required:"), "no elicitation: approval_required", toolText(r));
    check(toolText(r).includes("cannot ask the person"), "no elicitation: says why", toolText(r));
    const after = await ok(client, "get_session", { session_id: s.session_id });
    equal(after.state, "CONFIRMED", "no elicitation: state stays CONFIRMED");
    check(!(await transcriptTypes(client, s.session_id)).includes("COMMIT"), "no elicitation: no COMMIT");
  } finally {
    await client.close();
  }
}

main("approval", async () => {
  const opts = parseArgs(process.argv.slice(2), ["bin"]);
  check(opts.bin, "give --bin");
  const t0 = Date.now();
  const id = await accepted(opts.bin);
  const nDecline = await refused(opts.bin, { action: "decline" }, "declined");
  await refused(opts.bin, { action: "cancel" }, "declined");
  await refused(opts.bin, { action: "accept", content: { approve: "yes" } }, "invalid");
  await noElicitation(opts.bin);
  console.log(`approval: accept -> SIGNED (session ${id.slice(0, 8)}, approval via person); decline, cancel and an answer outside the form -> not_approved, ` +
    `CONFIRMED, transcript unchanged at ${nDecline} envelopes, no COMMIT; no elicitation under --approval elicit -> approval_required; ` +
    `the question names seller, item, quantity, price and delivery deadline, never the budget; ${((Date.now() - t0) / 1000).toFixed(2)}s`);
});
