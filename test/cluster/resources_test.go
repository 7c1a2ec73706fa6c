package cluster_test

import "github.com/mark3labs/mcp-go/mcp"

func readReq(uri string) mcp.ReadResourceRequest {
	return mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}}
}

func resourceText(r *mcp.ReadResourceResult) string {
	if r == nil || len(r.Contents) == 0 {
		return ""
	}
	if tc, ok := r.Contents[0].(mcp.TextResourceContents); ok {
		return tc.Text
	}
	return ""
}
