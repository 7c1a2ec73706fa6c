package registry

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
)

// Reputation returns every party's reputation as the registry computes it
// from its log, at its time (at zero) or at at. The figures are the
// registry's word: recompute them from the log entries to check them.
func (c *Client) Reputation(ctx context.Context, at time.Time) (*reputation.Report, error) {
	var rep reputation.Report
	if err := c.call(ctx, http.MethodGet, anp.RouteReputation, atQuery(at).Encode(), nil, "", &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// PartyReputation returns one party's reputation and pairs (a seller
// domain, or a buyer as "id:HEX" or "key:HEX"), at the registry's time (at
// zero) or at at.
func (c *Client) PartyReputation(ctx context.Context, party string, at time.Time) (*reputation.PartyReport, error) {
	var rep reputation.PartyReport
	if err := c.call(ctx, http.MethodGet, "/v1/reputation/"+url.PathEscape(party), atQuery(at).Encode(), nil, "", &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// atQuery asks for the scores at at (unix ms), none for the registry's time.
func atQuery(at time.Time) url.Values {
	if at.IsZero() {
		return nil
	}
	return url.Values{"at": {strconv.FormatInt(at.UnixMilli(), 10)}}
}
