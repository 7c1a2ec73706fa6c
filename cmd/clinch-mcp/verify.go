package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// verifyFooter explains the inputs of verify.
const verifyFooter = `FILE is a deal artifact (the clinch://artifacts/{id} resource, negotiate --out), or a bundle
{"artifact": ARTIFACT, "transcript": TRANSCRIPT}. A transcript is a JSON list of envelopes or the
clinch://sessions/{id}/transcript resource ({"session_id", "envelopes"}). With a transcript, verify also checks
that it is the one the deal binds (docs/protocol.md §15, anp.VerifyDealTranscript): the chain up to the
seller's ACCEPT, its hash, the session, both parties, the PROPOSE's goods and the ACCEPT's price and time.
With deal events — --events FILE (the output of ` + "`clinch-mcp arbiter show`" + `, or a list of logged events) or
"events" in the bundle, with an optional "key_chain" when the registry's chain grew since the deal — verify also
replays the deal's whole lifecycle (docs/protocol.md §15, anp.VerifyLifecycle): each event's countersignature,
signer, chain position and the commitment's state machine, and prints the state it ends in.`

func runVerify(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "verify", "verify FILE [--transcript FILE] [--registry-key HEX] [--json]", verifyFooter)
	rootKey := fs.String("registry-key", "", "pin the registry root key (hex); without it only internal consistency is proven")
	transcriptFile := fs.String("transcript", "", "the session's transcript, checked against the deal it must bind")
	eventsFile := fs.String("events", "", "the deal's logged events, replayed as its lifecycle")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parseFlags(fs, reorderArgs(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("verify needs exactly one artifact file")}
	}
	in, err := readVerifyInput(fs.Arg(0), *transcriptFile, *eventsFile)
	if err == nil {
		err = in.verify(*rootKey)
	}
	if *asJSON {
		_ = json.NewEncoder(env.stdout).Encode(in.result(err))
	}
	if err != nil {
		return &exitError{1, fmt.Errorf("artifact does not verify: %w", err)}
	}
	if !*asJSON {
		a := in.artifact
		pinned := "registry root key pinned"
		if *rootKey == "" {
			pinned = "registry root key NOT pinned (pass --registry-key to pin it)"
		}
		transcript := "no transcript given (pass --transcript to check it)"
		if in.transcript != nil {
			transcript = fmt.Sprintf("the transcript (%d envelopes) is the one the deal binds (envelopes 1-%d)", len(in.transcript), a.Terms.TranscriptLen)
		}
		fmt.Fprintf(env.stdout, "OK: %s bought %q x%d from %s for %s; buyer, seller and registry signatures, key chain and log inclusion (leaf %d of %d) verify; %s; %s%s\n",
			a.Terms.BuyerKey[:12], a.Terms.Item, a.Terms.Quantity, a.Terms.SellerDomain, a.Terms.Price, a.Receipt.LeafIndex, a.Receipt.TreeHead.Size, transcript, pinned, in.lifecycleText())
	}
	return nil
}

// verifyInput is what verify checks: an artifact and, when given, the
// transcript of its session.
type verifyInput struct {
	artifact   *anp.Artifact
	transcript []*anp.Envelope      // nil: none given
	events     []anp.DealEventEntry // nil: none given
	chain      []anp.KeyEntry       // the registry key chain for the events; nil: the receipt's
	life       *anp.Lifecycle       // the replayed lifecycle, after verify
}

// verify checks the artifact offline, then the transcript against its deal.
func (in *verifyInput) verify(rootKey string) error {
	if err := anp.VerifyArtifact(in.artifact, anp.VerifyOptions{RootKey: rootKey}); err != nil {
		return err
	}
	if in.transcript != nil {
		if err := anp.VerifyDealTranscript(&in.artifact.Terms, in.transcript); err != nil {
			return fmt.Errorf("transcript: %w", err)
		}
	}
	if in.events == nil {
		return nil
	}
	l, err := anp.VerifyLifecycle(in.artifact, anp.VerifyOptions{RootKey: rootKey}, in.chain, in.events)
	if err != nil {
		return fmt.Errorf("deal events: %w", err)
	}
	in.life = l
	return nil
}

// lifecycleText describes the replayed lifecycle ("" without events).
func (in *verifyInput) lifecycleText() string {
	l := in.life
	if l == nil {
		return ""
	}
	txt := fmt.Sprintf("; %d deal events replay to %s (deliver by %s", len(l.Events), l.State, time.UnixMilli(l.Commitment.DeliverBy).UTC().Format(time.RFC3339))
	if l.Late {
		txt += ", delivered late"
	}
	if l.Breached {
		txt += ", breach logged"
	}
	if r := l.Resolution; r != nil {
		txt += fmt.Sprintf(", dispute %s resolved %s by %s", l.Dispute.Reason, r.Outcome, r.DecidedBy)
	}
	return txt + ")"
}

// result is the --json answer; err is the verification's outcome.
func (in *verifyInput) result(err error) map[string]any {
	res := map[string]any{"ok": err == nil}
	if err != nil {
		res["error"] = err.Error()
		res["code"] = anp.CodeOf(err)
		return res
	}
	a := in.artifact
	res["session_id"], res["seller"], res["price"], res["leaf_index"] = a.Terms.SessionID, a.Terms.SellerDomain, a.Terms.Price.String(), a.Receipt.LeafIndex
	res["transcript_verified"] = in.transcript != nil
	if in.life != nil {
		res["deal_state"], res["deal_events"] = in.life.State, len(in.life.Events)
	}
	return res
}

// maxVerifyFile bounds the files verify reads: an artifact is a few KiB, a
// transcript of a long negotiation some hundred.
const maxVerifyFile = 8 << 20

// readVerifyInput reads FILE (an artifact or a bundle) and the optional
// --transcript file, all strictly decoded.
func readVerifyInput(path, transcriptPath, eventsPath string) (*verifyInput, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := anp.DecodeStrict(data, &top); err != nil {
		return nil, fmt.Errorf("%s is not an artifact: %w", path, err)
	}
	in := &verifyInput{artifact: &anp.Artifact{}}
	var transcript, events json.RawMessage
	if _, bundle := top["artifact"]; bundle {
		var b struct {
			Artifact   *anp.Artifact   `json:"artifact"`
			Transcript json.RawMessage `json:"transcript"`
			Events     json.RawMessage `json:"events"`
			KeyChain   []anp.KeyEntry  `json:"key_chain"`
		}
		if err := anp.DecodeStrict(data, &b); err != nil {
			return nil, fmt.Errorf("%s is not an artifact and transcript bundle: %w", path, err)
		}
		if b.Artifact == nil {
			return nil, fmt.Errorf("%s: the bundle's artifact is null", path)
		}
		in.artifact, transcript, events, in.chain = b.Artifact, b.Transcript, b.Events, b.KeyChain
	} else if err := anp.DecodeStrict(data, in.artifact); err != nil {
		return nil, fmt.Errorf("%s is not an artifact: %w", path, err)
	}
	if transcriptPath != "" {
		if transcript != nil {
			return nil, fmt.Errorf("%s already holds a transcript; --transcript would be a second one", path)
		}
		if transcript, err = readBounded(transcriptPath); err != nil {
			return nil, err
		}
	}
	if transcript != nil {
		if in.transcript, err = parseTranscript(transcript); err != nil {
			return nil, fmt.Errorf("transcript: %w", err)
		}
	}
	if events, err = secondInput(path, "events", events, eventsPath); err != nil {
		return nil, err
	}
	if events != nil {
		if in.events, err = parseDealEvents(events); err != nil {
			return nil, fmt.Errorf("deal events: %w", err)
		}
	}
	return in, nil
}

// secondInput returns the bundle's member have, or the file at path, but
// not both.
func secondInput(bundle, what string, have json.RawMessage, path string) (json.RawMessage, error) {
	if path == "" {
		return have, nil
	}
	if have != nil {
		return nil, fmt.Errorf("%s already holds %s; --%s would be a second one", bundle, what, what)
	}
	return readBounded(path)
}

// parseDealEvents reads a list of logged deal events, or a deal status
// (`+"`clinch-mcp arbiter show`"+`, GET /v1/deals/{session}) holding them as "events".
func parseDealEvents(data []byte) ([]anp.DealEventEntry, error) {
	var out []anp.DealEventEntry
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		err := anp.DecodeStrict(data, &out)
		return out, err
	}
	var st anp.DealStatus
	if err := anp.DecodeStrict(data, &st); err != nil {
		return nil, err
	}
	if st.Events == nil {
		return []anp.DealEventEntry{}, nil
	}
	return st.Events, nil
}

// parseTranscript reads a list of envelopes, or an object holding them as
// "envelopes" (with the optional "session_id" of the MCP resource).
func parseTranscript(data []byte) ([]*anp.Envelope, error) {
	var raws []json.RawMessage
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := anp.DecodeStrict(data, &raws); err != nil {
			return nil, err
		}
	} else {
		var r struct {
			SessionID string            `json:"session_id"`
			Envelopes []json.RawMessage `json:"envelopes"`
		}
		if err := anp.DecodeStrict(data, &r); err != nil {
			return nil, err
		}
		raws = r.Envelopes
	}
	envs := make([]*anp.Envelope, len(raws))
	for i, raw := range raws {
		e, err := anp.DecodeEnvelope(raw)
		if err != nil {
			return nil, fmt.Errorf("envelope %d: %w", i+1, err)
		}
		envs[i] = e
	}
	return envs, nil
}

// readBounded reads a file of at most maxVerifyFile bytes.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxVerifyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxVerifyFile {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, maxVerifyFile>>20)
	}
	return data, nil
}

// reorderArgs moves flags before positional arguments so "verify FILE --json" works.
func reorderArgs(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			if !containsEq(a) && i+1 < len(args) && !isBoolFlag(a) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func containsEq(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return true
		}
	}
	return false
}

func isBoolFlag(s string) bool {
	switch s {
	case "--json", "-json", "--auto", "-auto", "--approve", "-approve", "-h", "--help":
		return true
	}
	return false
}
