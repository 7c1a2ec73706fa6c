package anp_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
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
	"null_member":   anp.ErrNullMember,
	"invalid_utf8":  anp.ErrInvalidUTF8,
}

type recordsVector struct {
	Description    string    `json:"description"`
	BindRequest    sigVector `json:"bind_request"`
	DomainBinding  sigVector `json:"domain_binding"`
	EndpointRecord sigVector `json:"endpoint_record"`
	WSAuth         sigVector `json:"ws_auth"`
}

// readRejectionVectors reads rejections.json and the files its cases are
// checked against.
func readRejectionVectors(t *testing.T) (rejectionVectors, artifactVector, tokenVector, recordsVector) {
	t.Helper()
	var f rejectionVectors
	readVector(t, "rejections.json", &f)
	var art artifactVector
	readVector(t, "artifact.json", &art)
	var tok tokenVector
	readVector(t, "token.json", &tok)
	var recs recordsVector
	readVector(t, "records.json", &recs)
	return f, art, tok, recs
}

// TestRejectionVectors runs every case through the real verifier (decode,
// then verify) and checks that it fails with the named error at the path.
func TestRejectionVectors(t *testing.T) {
	f, art, tok, recs := readRejectionVectors(t)
	seen := map[string]int{}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			want, ok := rejectionErrors[c.Expect]
			if !ok || f.ExpectNames[c.Expect] == "" {
				t.Fatalf("unknown expect %q", c.Expect)
			}
			seen[c.Kind+"/"+c.Expect]++
			var err error
			data := c.input(t)
			switch c.Kind {
			case "artifact":
				err = verifyArtifactBytes(data, art.RootKey)
			case "envelope":
				err = verifyEnvelopeBytes(data)
			case "record":
				var r anp.SignedRecord
				if err = anp.DecodeStrict(data, &r); err == nil {
					err = r.Verify(recs.EndpointRecord.PublicKey)
				}
			case "token":
				_, err = anp.ParseToken(string(data), time.UnixMilli(tok.Claims.Iat), func(kid uint64) (string, bool) {
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
		"record/empty_member", "token/key_case", "artifact/null_member", "envelope/null_member", "record/null_member", "token/null_member",
		"artifact/invalid_utf8", "envelope/invalid_utf8", "record/invalid_utf8", "token/invalid_utf8"} {
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

// TestNullVectorsVerifyLeniently shows why null_member exists: read by
// encoding/json, which takes null as the zero value or as absent, these
// cases of rejections.json verify with their original signatures.
func TestNullVectorsVerifyLeniently(t *testing.T) {
	f, art, tok, recs := readRejectionVectors(t)
	lenient := map[string]func(data string) error{
		"artifact": func(data string) error {
			var a anp.Artifact
			if err := json.Unmarshal([]byte(data), &a); err != nil {
				return err
			}
			return anp.VerifyArtifact(&a, anp.VerifyOptions{RootKey: art.RootKey})
		},
		"envelope": func(data string) error {
			var e anp.Envelope
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				return err
			}
			return e.VerifySignature()
		},
		"record": func(data string) error {
			var r anp.SignedRecord
			if err := json.Unmarshal([]byte(data), &r); err != nil {
				return err
			}
			return r.Verify(recs.EndpointRecord.PublicKey)
		},
		"token": func(data string) error {
			body, sig, _ := strings.Cut(data, ".")
			raw, err := base64.RawURLEncoding.DecodeString(body)
			if err != nil {
				return err
			}
			var c anp.TokenClaims
			if err := json.Unmarshal(raw, &c); err != nil {
				return err
			}
			return anp.Verify(tok.RegistryKey, anp.PurposeToken, c, sig)
		},
	}
	for _, name := range []string{"artifact null key_index of the countersignature", "artifact null key_index of the tree head",
		"artifact null index of a key chain entry", "envelope null prev", "envelope body with a null offer", "record with demo null", "token null kid"} {
		t.Run(name, func(t *testing.T) {
			var c *rejectionFileCase
			for i := range f.Cases {
				if f.Cases[i].Name == name {
					c = &f.Cases[i]
				}
			}
			if c == nil || c.Expect != "null_member" {
				t.Fatalf("rejections.json has no null_member case %q", name)
			}
			if err := lenient[c.Kind](c.Data); err != nil {
				t.Fatalf("read leniently: %v, want it to verify", err)
			}
		})
	}
}
