// capabilities.mjs connects to a Streamable HTTP MCP server with the
// TypeScript SDK client and prints its capabilities as one JSON line.
//
// Usage: node capabilities.mjs --http URL/mcp

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

import { check, main, parseArgs, withTimeout } from "./lib.mjs";

main("capabilities", async () => {
  const { http } = parseArgs(process.argv.slice(2), ["http"]);
  check(typeof http === "string", "--http URL is required");
  const client = new Client({ name: "clinch-e2e-capabilities", version: "0.0.0" });
  try {
    await withTimeout(client.connect(new StreamableHTTPClientTransport(new URL(http))), 20000, "connect");
    console.log(JSON.stringify(client.getServerCapabilities() ?? {}));
  } finally {
    await client.close().catch(() => {});
  }
});
