package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// runVectors is the conformance runner: every vector file in DIR is run
// against the real verifiers and parsers, case by case. Each case carries
// expect ("valid" or a named failure); it passes when the outcome of the
// reference implementation has that name.
func runVectors(_ context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "vectors", "vectors DIR",
		"Runs every *.json vector file in DIR (testdata/anp) against the reference verifier and prints one line per file.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("vectors needs exactly one directory")}
	}
	dir := fs.Arg(0)
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return &exitError{1, fmt.Errorf("%s holds no vector files", dir)}
	}
	sort.Strings(names)
	var failedFiles, total, failed int
	for _, path := range names {
		r := runVectorFile(dir, filepath.Base(path))
		total += len(r.cases)
		bad := r.failures()
		failed += len(bad)
		if r.err != nil || len(bad) > 0 || len(r.cases) == 0 {
			failedFiles++
			fmt.Fprintf(env.stdout, "FAIL %s: %d passed, %d failed\n", filepath.Base(path), len(r.cases)-len(bad), len(bad))
			if r.err != nil {
				fmt.Fprintf(env.stdout, "     %v\n", r.err)
			} else if len(r.cases) == 0 {
				fmt.Fprintf(env.stdout, "     no case with expect\n")
			}
			for _, c := range bad {
				fmt.Fprintf(env.stdout, "     %s: expect %s, got %s%s\n", c.name, c.expect, c.got, c.detail)
			}
			continue
		}
		fmt.Fprintf(env.stdout, "ok   %s: %d passed%s\n", filepath.Base(path), len(r.cases), r.summary())
	}
	fmt.Fprintf(env.stdout, "%d files, %d cases, %d failed\n", len(names), total, failed)
	if failedFiles > 0 {
		return &exitError{1, fmt.Errorf("%d of %d vector files failed", failedFiles, len(names))}
	}
	return nil
}

// vcase is one case: its expected and actual outcome.
type vcase struct {
	name, expect, got, detail string
}

type vresult struct {
	cases []vcase
	err   error
}

func (r *vresult) failures() []vcase {
	var out []vcase
	for _, c := range r.cases {
		if c.expect != c.got {
			out = append(out, c)
		}
	}
	return out
}

// summary counts the cases per expect: " (valid 31, root_mismatch 6)".
func (r *vresult) summary() string {
	n := map[string]int{}
	for _, c := range r.cases {
		n[c.expect]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] == "valid" || keys[j] != "valid" && keys[i] < keys[j] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, n[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// check records a case whose outcome is err classified by classes.
func (r *vresult) check(name, expect string, err error, classes map[string]error) {
	if expect == "" {
		expect = "(missing)" // a case without expect never passes
	}
	c := vcase{name: name, expect: expect, got: vectorOutcome(err, classes)}
	if err != nil {
		c.detail = " (" + strings.TrimPrefix(err.Error(), errMismatch.Error()+": ") + ")"
	}
	r.cases = append(r.cases, c)
}

// vectorOutcome names err: "valid" for nil, a class name, else the protocol code.
func vectorOutcome(err error, classes map[string]error) string {
	if err == nil {
		return "valid"
	}
	for name, class := range classes {
		if errors.Is(err, class) {
			return name
		}
	}
	if c := anp.CodeOf(err); c != "" {
		return string(c)
	}
	return "error"
}

// errMismatch is a reference result that differs from the file's.
var errMismatch = errors.New("mismatch")

func mismatch(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMismatch, fmt.Sprintf(format, args...))
}

// The named failures, by their expect names in the vector files.
var (
	signatureClasses = map[string]error{
		"public_key_small_order": anp.ErrKeySmallOrder, "public_key_non_canonical": anp.ErrKeyNonCanonical,
		"public_key_not_on_curve": anp.ErrKeyNotOnCurve, "signature_r_small_order": anp.ErrSignatureRSmallOrder,
		"signature_r_invalid": anp.ErrSignatureRInvalid, "signature_s_non_canonical": anp.ErrSignatureSNonCanonical,
		"mismatch": errMismatch,
	}
	moneyClassNames = map[string]error{
		"amount_format": anp.ErrAmountFormat, "amount_precision": anp.ErrAmountPrecision, "amount_range": anp.ErrAmountRange,
		"currency_format": anp.ErrCurrencyFormat, "currency_unknown": anp.ErrCurrencyUnknown,
		"currency_withdrawn": anp.ErrCurrencyWithdrawn, "currency_no_minor_unit": anp.ErrCurrencyNoMinorUnit, "mismatch": errMismatch,
	}
	decodeClasses = map[string]error{
		"duplicate_key": anp.ErrDuplicateKey, "key_case": anp.ErrKeyCase, "integer_range": anp.ErrIntegerRange,
		"not_integer": anp.ErrNotInteger, "empty_member": anp.ErrEmptyMember, "null_member": anp.ErrNullMember, "invalid_utf8": anp.ErrInvalidUTF8, "mismatch": errMismatch,
	}
	proofClassNames = map[string]error{
		"proof_hash": anp.ErrProofHash, "leaf_index": anp.ErrLeafIndex, "proof_shape": anp.ErrProofShape,
		"root_mismatch": anp.ErrRootMismatch, "mismatch": errMismatch,
	}
	addressClassNames = map[string]error{
		"address_length": anp.ErrAddressLength, "address_mode": anp.ErrAddressMode, "address_no_domain": anp.ErrAddressNoDomain,
		"domain_empty": anp.ErrDomainEmpty, "domain_length": anp.ErrDomainLength, "domain_labels": anp.ErrDomainLabels,
		"label_empty": anp.ErrLabelEmpty, "label_length": anp.ErrLabelLength, "label_hyphen": anp.ErrLabelHyphen,
		"label_character": anp.ErrLabelCharacter, "domain_last_label": anp.ErrDomainLastLabel, "mismatch": errMismatch,
	}
	relayClasses = map[string]error{
		"relay_missing": anp.ErrRelayMissing, "relay_format": anp.ErrRelayFormat, "relay_stale": anp.ErrRelayStale,
		"relay_unknown_key": anp.ErrRelayUnknownKey, "relay_key_validity": anp.ErrRelayKeyValidity, "relay_signature": anp.ErrRelaySignature,
	}
	sealedClasses = map[string]error{"corrupt_export": anp.ErrCorruptExport, "corrupt_secret": anp.ErrCorruptSecret, "mismatch": errMismatch}
	plainClasses  = map[string]error{"mismatch": errMismatch}
)

// fileRunners run the cases of each file that are not signature vectors
// (those are found in every file by runSignatureCases).
var fileRunners = map[string]func(dir string, data []byte, r *vresult) error{
	"keys.json":       runKeyCases,
	"transcript.json": runTranscriptCases,
	"artifact.json":   runArtifactCases,
	"pow.json":        runPoWCases,
	"token.json":      runTokenCases,
	"clean_text.json": runCleanTextCases,
	"credential.json": runCredentialCases,
	"relay.json":      runRelayCases,
	"export.json":     runSealedCases(anp.OpenExport),
	"session_key.json": runSealedCases(func(id ed25519.PrivateKey, b []byte) ([]byte, error) {
		return anp.OpenSecretBytes(id, anp.SecretSessionKey, b)
	}),
	"money.json":       runMoneyCases,
	"rejections.json":  runRejectionCases,
	"merkle.json":      runMerkleCases,
	"addresses.json":   runAddressCases,
	"key_events.json":  runKeyEventCases,
	"key_windows.json": runKeyWindowCases,
	"deal_events.json": runDealEventCases,
}

func runVectorFile(dir, name string) *vresult {
	r := &vresult{}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		r.err = err
		return r
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		r.err = fmt.Errorf("not JSON: %w", err)
		return r
	}
	runSignatureCases("", tree, r)
	run := fileRunners[name]
	if strings.HasPrefix(name, "envelope_") {
		run = runEnvelopeCases
	}
	if run != nil {
		r.err = run(dir, data, r)
	}
	if run == nil && len(r.cases) == 0 {
		r.err = fmt.Errorf("no runner knows this file")
	}
	return r
}

// runSignatureCases finds every signature vector (an object with purpose,
// public_key, input, signature and signing_input_hex or
// signing_input_hex_refused) and checks the signing input, the signature
// with anp.Verify and, where present, the hash of signed.
func runSignatureCases(path string, v any, r *vresult) {
	switch v := v.(type) {
	case []any:
		for i, x := range v {
			runSignatureCases(fmt.Sprintf("%s[%d]", path, i), x, r)
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			runSignatureCases(strings.TrimPrefix(path+"."+k, "."), v[k], r)
		}
		if _, ok := v["signature"]; !ok {
			return
		}
		if _, ok := v["purpose"]; !ok {
			return
		}
		expect, _ := v["expect"].(string)
		name := "signature " + path
		if name == "signature " {
			name = "signature"
		}
		r.check(name, expect, checkSignatureVector(v), signatureClasses)
	}
}

func checkSignatureVector(v map[string]any) error {
	str := func(k string) string { s, _ := v[k].(string); return s }
	p := anp.Purpose(str("purpose"))
	msg, err := anp.SigningInput(p, v["input"])
	if err != nil {
		return err
	}
	want := str("signing_input_hex")
	if want == "" {
		want = str("signing_input_hex_refused")
	}
	if hex.EncodeToString(msg) != want {
		return mismatch("signing input differs from signing_input_hex")
	}
	if err := anp.Verify(str("public_key"), p, v["input"], str("signature")); err != nil {
		return err
	}
	if h := str("hash"); h != "" {
		got, err := anp.Hash(v["signed"])
		if err != nil || got != h {
			return mismatch("hash of signed is %s, file %s", got, h)
		}
	}
	return nil
}

// readSibling decodes another vector file of dir into v.
func readSibling(dir, name string, v any) error {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func runKeyCases(_ string, data []byte, r *vresult) error {
	var f struct {
		Keys []struct {
			Name, Seed, Expect string
			PublicKey          string `json:"public_key"`
		}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	for _, k := range f.Keys {
		var err error
		seed, _ := hex.DecodeString(k.Seed)
		if len(seed) != ed25519.SeedSize {
			err = mismatch("seed is not 32 bytes")
		} else if pub := anp.PublicKeyHex(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)); pub != k.PublicKey {
			err = mismatch("public key %s", pub)
		} else {
			_, err = anp.ParsePublicKey(k.PublicKey)
		}
		r.check("key "+k.Name, k.Expect, err, signatureClasses)
	}
	return nil
}

// decodeEnvelopes decodes each raw envelope with anp.DecodeEnvelope.
func decodeEnvelopes(raws []json.RawMessage) ([]*anp.Envelope, error) {
	out := make([]*anp.Envelope, len(raws))
	for i, raw := range raws {
		e, err := anp.DecodeEnvelope(raw)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func runTranscriptCases(_ string, data []byte, r *vresult) error {
	var f struct {
		Envelopes []json.RawMessage
		Hashes    []string
		Head      string
		Expect    string
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	envs, err := decodeEnvelopes(f.Envelopes)
	if err == nil {
		var head string
		if head, err = anp.VerifyChain(envs); err == nil && head != f.Head {
			err = mismatch("head %s", head)
		}
		for i, e := range envs {
			if h, _ := e.Hash(); err == nil && (i >= len(f.Hashes) || h != f.Hashes[i]) {
				err = mismatch("hash of envelope %d", i+1)
			}
		}
	}
	r.check("transcript", f.Expect, err, decodeClasses)
	return nil
}

func runArtifactCases(_ string, data []byte, r *vresult) error {
	var f struct {
		RootKey    string `json:"root_key"`
		Transcript []json.RawMessage
		Artifact   json.RawMessage
		Expect     string
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	var a anp.Artifact
	err := anp.DecodeStrict(f.Artifact, &a)
	if err == nil {
		err = anp.VerifyArtifact(&a, anp.VerifyOptions{RootKey: f.RootKey})
	}
	if err == nil {
		var envs []*anp.Envelope
		if envs, err = decodeEnvelopes(f.Transcript); err == nil {
			err = anp.VerifyDealTranscript(&a.Terms, envs)
		}
	}
	r.check("artifact (pinned root key) and its transcript", f.Expect, err, decodeClasses)
	return nil
}

// bodyFor returns an empty body of the envelope type t.
func bodyFor(t anp.MsgType) any {
	switch t {
	case anp.TypePropose:
		return &anp.ProposeBody{}
	case anp.TypeCounter, anp.TypeAccept:
		return &anp.OfferBody{}
	case anp.TypeCommit:
		return &anp.CommitBody{}
	case anp.TypeConfirm:
		return &anp.ConfirmBody{}
	}
	return &anp.NoteBody{}
}

func runEnvelopeCases(_ string, data []byte, r *vresult) error {
	var f struct {
		Signed json.RawMessage
		Expect string
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	e, err := anp.DecodeEnvelope(f.Signed)
	if err == nil {
		err = e.VerifySignature()
	}
	if err == nil {
		err = e.DecodeBody(bodyFor(e.Type))
	}
	r.check("envelope decoded, verified, body decoded", f.Expect, err, decodeClasses)
	return nil
}

func runPoWCases(_ string, data []byte, r *vresult) error {
	var f struct {
		Challenge       anp.Challenge
		Solution        uint64
		Hash            string
		LeadingZeroBits int `json:"leading_zero_bits"`
		Expect          string
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	h := anp.PoWHash(f.Challenge.Nonce, f.Challenge.PubKey, f.Solution)
	var err error
	switch {
	case hex.EncodeToString(h[:]) != f.Hash:
		err = mismatch("hash %x", h)
	case anp.LeadingZeroBits(h) != f.LeadingZeroBits || f.LeadingZeroBits < f.Challenge.Difficulty:
		err = mismatch("%d leading zero bits for difficulty %d", anp.LeadingZeroBits(h), f.Challenge.Difficulty)
	}
	r.check("proof of work", f.Expect, err, plainClasses)
	return nil
}

func runTokenCases(_ string, data []byte, r *vresult) error {
	var f struct {
		RegistryKey string `json:"registry_key"`
		Claims      json.RawMessage
		Token       string
		Expect      string
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	var c anp.TokenClaims
	if err := json.Unmarshal(f.Claims, &c); err != nil {
		return err
	}
	got, err := anp.ParseToken(f.Token, time.UnixMilli(c.Iat), func(kid uint64) (string, bool) { return f.RegistryKey, kid == c.KeyIndex })
	if err == nil && *got != c {
		err = mismatch("claims %+v", *got)
	}
	if body, _, _ := strings.Cut(f.Token, "."); err == nil {
		raw, _ := base64.RawURLEncoding.DecodeString(body)
		if want, _ := anp.Canonical(c); !bytes.Equal(raw, want) {
			err = mismatch("token body is not JCS(claims)")
		}
	}
	r.check("token", f.Expect, err, decodeClasses)
	return nil
}

func runCleanTextCases(_ string, data []byte, r *vresult) error {
	var f struct {
		Vectors []struct {
			Description string
			InputHex    string `json:"input_hex"`
			MaxBytes    int    `json:"max_bytes"`
			Output      string
			Expect      string
		}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	for _, v := range f.Vectors {
		in, err := hex.DecodeString(v.InputHex)
		if err == nil {
			if got := anp.CleanText(string(in), v.MaxBytes); got != v.Output {
				err = mismatch("output %q", got)
			}
		}
		r.check(v.Description, v.Expect, err, plainClasses)
	}
	return nil
}

func runCredentialCases(_ string, data []byte, r *vresult) error {
	var f struct {
		SellerIdentitySeed string `json:"seller_identity_seed"`
		EncKey             string `json:"enc_key"`
		Session, Domain    string
		BuyerKey           string `json:"buyer_key"`
		Credential, Sealed string
		Expect             string
		Refused            []struct {
			Description, Sealed, Session, Domain, Expect string
			BuyerKey                                     string `json:"buyer_key"`
		}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	seed, err := hex.DecodeString(f.SellerIdentitySeed)
	if err != nil || len(seed) != ed25519.SeedSize {
		return fmt.Errorf("seller_identity_seed is not a 32-byte seed")
	}
	k, err := anp.DeriveCredentialKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		return err
	}
	got, err := anp.OpenCredential(k, f.Sealed, anp.CredentialScope{Session: f.Session, BuyerKey: f.BuyerKey, Domain: f.Domain})
	if err == nil && (got != f.Credential || k.PublicHex() != f.EncKey) {
		err = mismatch("opened %d bytes, enc_key %s", len(got), k.PublicHex())
	}
	r.check("sealed credential", f.Expect, err, plainClasses)
	for _, c := range f.Refused {
		_, err := anp.OpenCredential(k, c.Sealed, anp.CredentialScope{Session: c.Session, BuyerKey: c.BuyerKey, Domain: c.Domain})
		r.check(c.Description, c.Expect, err, plainClasses)
	}
	return nil
}

// runRelayCases verifies the key chain under root_key and runs every case
// through anp.VerifyRelay with that chain.
func runRelayCases(_ string, data []byte, r *vresult) error {
	var f struct {
		RootKey  string         `json:"root_key"`
		KeyChain []anp.KeyEntry `json:"key_chain"`
		Cases    []struct {
			Description, Value, Domain, Route, Body, Expect string
			Now                                             int64
		}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	if err := anp.VerifyKeyChain(f.RootKey, f.KeyChain); err != nil {
		return fmt.Errorf("key_chain: %w", err)
	}
	keyFor := func(kid uint64) *anp.KeyEntry {
		e, err := anp.ChainKey(f.KeyChain, kid)
		if err != nil {
			return nil
		}
		return e
	}
	for _, c := range f.Cases {
		target := anp.RelayTarget{Domain: c.Domain, Route: c.Route, Body: []byte(c.Body)}
		_, err := anp.VerifyRelay(c.Value, target, time.UnixMilli(c.Now), keyFor)
		r.check(c.Description, c.Expect, err, relayClasses)
	}
	return nil
}

func runSealedCases(open func(ed25519.PrivateKey, []byte) ([]byte, error)) func(string, []byte, *vresult) error {
	return func(_ string, data []byte, r *vresult) error {
		var f struct {
			IdentitySeed string `json:"identity_seed"`
			PlaintextHex string `json:"plaintext_hex"`
			SealedHex    string `json:"sealed_hex"`
			Expect       string
			Refused      []struct {
				Description string
				SealedHex   string `json:"sealed_hex"`
				Expect      string
			}
		}
		if err := json.Unmarshal(data, &f); err != nil {
			return err
		}
		seed, err := hex.DecodeString(f.IdentitySeed)
		if err != nil || len(seed) != ed25519.SeedSize {
			return fmt.Errorf("identity_seed is not a 32-byte seed")
		}
		id := ed25519.NewKeyFromSeed(seed)
		sealed, _ := hex.DecodeString(f.SealedHex)
		plain, err := open(id, sealed)
		if err == nil && hex.EncodeToString(plain) != f.PlaintextHex {
			err = mismatch("plaintext %x", plain)
		}
		r.check("sealed value", f.Expect, err, sealedClasses)
		for _, c := range f.Refused {
			b, _ := hex.DecodeString(c.SealedHex)
			_, err := open(id, b)
			r.check(c.Description, c.Expect, err, sealedClasses)
		}
		return nil
	}
}

func runMoneyCases(_ string, data []byte, r *vresult) error {
	var f struct {
		Cases []struct {
			Text, Currency, Expect string
			Amount                 int64
		}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	for _, c := range f.Cases {
		m, err := anp.ParseMoney(c.Text, c.Currency)
		if err == nil && (m.Amount != c.Amount || m.Currency != c.Currency) {
			err = mismatch("%d %s", m.Amount, m.Currency)
		}
		r.check(fmt.Sprintf("%q %s", c.Text, c.Currency), c.Expect, err, moneyClassNames)
	}
	return nil
}

// rejectionKeys are the keys the rejection cases verify with, read from
// the vector files beside rejections.json.
type rejectionKeys struct {
	rootKey   string // artifact.json
	sellerKey string // records.json, the endpoint record's signer
	tokenKey  string // token.json
	claims    anp.TokenClaims
}

func readRejectionKeys(dir string) (*rejectionKeys, error) {
	var art struct {
		RootKey string `json:"root_key"`
	}
	var tok struct {
		RegistryKey string `json:"registry_key"`
		Claims      anp.TokenClaims
	}
	var recs struct {
		EndpointRecord struct {
			PublicKey string `json:"public_key"`
		} `json:"endpoint_record"`
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"artifact.json", &art}, {"token.json", &tok}, {"records.json", &recs}} {
		if err := readSibling(dir, f.name, f.v); err != nil {
			return nil, fmt.Errorf("rejections.json needs %s beside it: %w", f.name, err)
		}
	}
	return &rejectionKeys{rootKey: art.RootKey, sellerKey: recs.EndpointRecord.PublicKey, tokenKey: tok.RegistryKey, claims: tok.Claims}, nil
}

// refuse runs one rejection case through the verifier of its kind.
func (k *rejectionKeys) refuse(kind, data string) error {
	switch kind {
	case "artifact":
		var a anp.Artifact
		if err := anp.DecodeStrict([]byte(data), &a); err != nil {
			return err
		}
		return anp.VerifyArtifact(&a, anp.VerifyOptions{RootKey: k.rootKey})
	case "envelope":
		e, err := anp.DecodeEnvelope([]byte(data))
		if err != nil {
			return err
		}
		if err := e.VerifySignature(); err != nil {
			return err
		}
		return e.DecodeBody(bodyFor(e.Type))
	case "record":
		var r anp.SignedRecord
		if err := anp.DecodeStrict([]byte(data), &r); err != nil {
			return err
		}
		return r.Verify(k.sellerKey)
	case "token":
		_, err := anp.ParseToken(data, time.UnixMilli(k.claims.Iat), func(kid uint64) (string, bool) {
			return k.tokenKey, kid == k.claims.KeyIndex
		})
		return err
	}
	return mismatch("unknown kind %q", kind)
}

func runRejectionCases(dir string, data []byte, r *vresult) error {
	var f struct {
		Cases []struct {
			Name, Kind, Expect, Path, Data string
			DataHex                        string `json:"data_hex"`
		}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	keys, err := readRejectionKeys(dir)
	if err != nil {
		return err
	}
	for _, c := range f.Cases {
		input := c.Data
		if c.DataHex != "" {
			b, err := hex.DecodeString(c.DataHex)
			if err != nil {
				return fmt.Errorf("%s: data_hex: %w", c.Name, err)
			}
			input = string(b)
		}
		err := keys.refuse(c.Kind, input)
		var de *anp.DecodeError
		if err != nil && errors.As(err, &de) && de.Path != c.Path {
			err = mismatch("failure at %q, file names %q: %v", de.Path, c.Path, err)
		}
		r.check(c.Name, c.Expect, err, decodeClasses)
	}
	return nil
}

func runMerkleCases(_ string, data []byte, r *vresult) error {
	var f struct {
		Leaves []struct {
			DataHex  string `json:"data_hex"`
			LeafHash string `json:"leaf_hash"`
		}
		Roots []struct {
			Size     uint64
			RootHash string `json:"root_hash"`
			Expect   string
		}
		Inclusion []struct {
			Description string
			LeafIndex   uint64 `json:"leaf_index"`
			TreeSize    uint64 `json:"tree_size"`
			DataHex     string `json:"data_hex"`
			Proof       []string
			RootHash    string `json:"root_hash"`
			Expect      string
		}
		Consistency []struct {
			Description   string
			First, Second uint64
			FirstRoot     string `json:"first_root"`
			SecondRoot    string `json:"second_root"`
			Proof         []string
			Expect        string
		}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	// Roots with the log's own Merkle library, from anp.LeafHash.
	rng := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	roots := map[uint64]string{}
	for i, l := range f.Leaves {
		d, err := hex.DecodeString(l.DataHex)
		if err != nil {
			return fmt.Errorf("leaf %d: %w", i, err)
		}
		h := anp.LeafHash(d)
		if hex.EncodeToString(h) != l.LeafHash {
			return fmt.Errorf("leaf %d: leaf hash differs", i)
		}
		if err := rng.Append(h, nil); err != nil {
			return err
		}
		root, err := rng.GetRootHash(nil)
		if err != nil {
			return err
		}
		roots[uint64(i+1)] = hex.EncodeToString(root)
	}
	for _, c := range f.Roots {
		var err error
		if got, ok := roots[c.Size]; !ok || got != c.RootHash {
			err = mismatch("root of size %d is %s", c.Size, got)
		}
		r.check(fmt.Sprintf("root of size %d", c.Size), c.Expect, err, proofClassNames)
	}
	for _, c := range f.Inclusion {
		d, _ := hex.DecodeString(c.DataHex)
		err := anp.VerifyInclusion(d, c.LeafIndex, &anp.SignedTreeHead{Size: c.TreeSize, RootHash: c.RootHash}, c.Proof)
		r.check("inclusion "+c.Description, c.Expect, err, proofClassNames)
	}
	for _, c := range f.Consistency {
		err := anp.VerifyConsistency(&anp.SignedTreeHead{Size: c.First, RootHash: c.FirstRoot}, &anp.SignedTreeHead{Size: c.Second, RootHash: c.SecondRoot}, c.Proof)
		r.check("consistency "+c.Description, c.Expect, err, proofClassNames)
	}
	return nil
}

func runAddressCases(_ string, data []byte, r *vresult) error {
	var f struct {
		Cases []struct{ Description, Input, Expect, Mode, Domain, Canonical string }
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	for _, c := range f.Cases {
		a, err := anp.ParseAddress(c.Input)
		if err == nil && (string(a.Mode) != c.Mode || a.Domain != c.Domain || a.String() != c.Canonical) {
			err = mismatch("read as %s", a)
		}
		r.check(c.Description, c.Expect, err, addressClassNames)
	}
	return nil
}
