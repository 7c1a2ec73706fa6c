package anp_test

import (
	"errors"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

var rejectionErrors = map[string]error{
	"duplicate_key": anp.ErrDuplicateKey,
	"key_case":      anp.ErrKeyCase,
	"integer_range": anp.ErrIntegerRange,
	"not_integer":   anp.ErrNotInteger,
	"empty_member":  anp.ErrEmptyMember,
}

// TestRejectionVectors runs every case through the real verifier (decode,
// then verify) and checks that it fails with the named error at the path.
func TestRejectionVectors(t *testing.T) {
	var f rejectionVectors
	readVector(t, "rejections.json", &f)
	var art artifactVector
	readVector(t, "artifact.json", &art)
	var tok tokenVector
	readVector(t, "token.json", &tok)
	var recs struct {
		Description    string    `json:"description"`
		BindRequest    sigVector `json:"bind_request"`
		DomainBinding  sigVector `json:"domain_binding"`
		EndpointRecord sigVector `json:"endpoint_record"`
		WSAuth         sigVector `json:"ws_auth"`
	}
	readVector(t, "records.json", &recs)
	seen := map[string]int{}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			want, ok := rejectionErrors[c.Expect]
			if !ok || f.ExpectNames[c.Expect] == "" {
				t.Fatalf("unknown expect %q", c.Expect)
			}
			seen[c.Kind+"/"+c.Expect]++
			var err error
			switch c.Kind {
			case "artifact":
				err = verifyArtifactBytes([]byte(c.Data), art.RootKey)
			case "envelope":
				err = verifyEnvelopeBytes([]byte(c.Data))
			case "record":
				var r anp.SignedRecord
				if err = anp.DecodeStrict([]byte(c.Data), &r); err == nil {
					err = r.Verify(recs.EndpointRecord.PublicKey)
				}
			case "token":
				_, err = anp.ParseToken(c.Data, time.UnixMilli(tok.Claims.Iat), func(kid uint64) (string, bool) {
					return tok.RegistryKey, kid == tok.Claims.KeyIndex
				})
			default:
				t.Fatalf("unknown kind %q", c.Kind)
			}
			if !errors.Is(err, want) {
				t.Fatalf("error %v, want %s", err, f.ExpectNames[c.Expect])
			}
			if de := (*anp.DecodeError)(nil); !errors.As(err, &de) || de.Path != c.Path {
				t.Fatalf("error %v, want path %q", err, c.Path)
			}
		})
	}
	for _, k := range []string{"artifact/duplicate_key", "artifact/key_case", "artifact/integer_range", "artifact/not_integer",
		"artifact/empty_member", "envelope/duplicate_key", "envelope/key_case", "envelope/integer_range", "envelope/empty_member",
		"record/empty_member", "token/key_case"} {
		if seen[k] == 0 {
			t.Errorf("no %s case", k)
		}
	}
}

func verifyArtifactBytes(data []byte, rootKey string) error {
	var a anp.Artifact
	if err := anp.DecodeStrict(data, &a); err != nil {
		return err
	}
	return anp.VerifyArtifact(&a, anp.VerifyOptions{RootKey: rootKey})
}

func verifyEnvelopeBytes(data []byte) error {
	e, err := anp.DecodeEnvelope(data)
	if err != nil {
		return err
	}
	if err := e.VerifySignature(); err != nil {
		return err
	}
	var body anp.ProposeBody
	return e.DecodeBody(&body)
}
