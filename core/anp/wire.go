package anp

// HTTP routes of the registry (see docs/protocol.md).
const (
	RouteChallenge   = "/v1/auth/challenge"    // POST ChallengeRequest -> Challenge
	RouteToken       = "/v1/auth/token"        // POST TokenRequest -> TokenResponse
	RouteKeys        = "/v1/keys"              // GET -> KeysResponse
	RouteDomains     = "/v1/domains"           // POST BindRequest -> DomainBinding (operator token)
	RouteDomain      = "/v1/domains/{domain}"  // GET -> DomainBinding
	RouteRecords     = "/v1/records"           // POST SignedRecord -> Listing
	RouteDiscover    = "/v1/discover"          // GET ?category=&mode=&limit=&min_trust= -> DiscoverResponse (token)
	RouteListing     = "/v1/listings/{domain}" // GET -> Listing (token)
	RouteRelay       = "/v1/relay/{domain}"    // POST Envelope -> RelayResponse (token)
	RouteCallbacks   = "/v1/callbacks"         // POST Envelope (seller-signed) -> 202
	RouteNotary      = "/v1/notary"            // POST NotarizeRequest -> Artifact (token)
	RouteLogHead     = "/v1/log/head"          // GET -> SignedTreeHead
	RouteConsistency = "/v1/log/consistency"   // GET ?first=&second= -> ProofResponse
	RouteInclusion   = "/v1/log/inclusion"     // GET ?index=&size= -> ProofResponse
	RouteEntries     = "/v1/log/entries"       // GET ?start=&end= -> EntriesResponse
	RouteWS          = "/v1/ws"                // WebSocket: AUTH, CALLBACK, ACK
	// RouteReputation serves every party's reputation (docs/reputation.md).
	RouteReputation      = "/v1/reputation"         // GET -> reputation.Report
	RouteReputationParty = "/v1/reputation/{party}" // GET -> reputation.PartyReport
	RouteHealth          = "/healthz"               // GET -> 200
)

// Seller node routes, relative to the endpoint record's URL.
const (
	SellerHandshake   = "/handshake"    // PROPOSE
	SellerCounter     = "/counter"      // COUNTER, QUERY
	SellerCancel      = "/cancel"       // CANCEL
	SellerSignRequest = "/sign_request" // COMMIT
)

// SellerPathFor maps a buyer message type to the seller route that takes it.
func SellerPathFor(t MsgType) (string, bool) {
	switch t {
	case TypePropose:
		return SellerHandshake, true
	case TypeCounter, TypeQuery:
		return SellerCounter, true
	case TypeCancel:
		return SellerCancel, true
	case TypeCommit:
		return SellerSignRequest, true
	}
	return "", false
}

// BuyerMayAsk reports whether a buyer may send t.
func BuyerMayAsk(t MsgType) bool { _, ok := SellerPathFor(t); return ok }

// SellerMayAnswer reports whether a seller may send t.
func SellerMayAnswer(t MsgType) bool {
	switch t {
	case TypeCounter, TypeAccept, TypeReject, TypeCancel, TypeConfirm, TypeInform, TypeEscalate:
		return true
	}
	return false
}

// ChallengeRequest asks for a PoW challenge bound to a public key.
type ChallengeRequest struct {
	PubKey string `json:"pubkey"`
}

// TokenRequest submits a PoW solution with a proof of key possession.
type TokenRequest struct {
	ChallengeID string `json:"challenge_id"`
	PubKey      string `json:"pubkey"`
	Solution    uint64 `json:"solution"`
	Sig         string `json:"sig"` // identity key over PossessionProof
}

// TokenResponse carries a short-lived registry-signed token.
type TokenResponse struct {
	Token     string `json:"token"`
	ExpiresAt int64  `json:"expires_at"` // unix ms
}

// KeysResponse publishes the registry root key and key chain.
type KeysResponse struct {
	RootKey string     `json:"root_key"`
	Chain   []KeyEntry `json:"chain"`
}

// DiscoverResponse lists sellers.
type DiscoverResponse struct {
	Results []Listing `json:"results"`
}

// RelayResponse is the registry's answer to a relayed envelope: the seller's
// signed reply, or Pending when the seller will answer through a callback.
type RelayResponse struct {
	Reply   *Envelope `json:"reply,omitempty"`
	Pending bool      `json:"pending,omitempty"`
}

// SellerResponse is what a seller's handler returns to the relay.
type SellerResponse = RelayResponse

// NotarizeRequest asks the registry to countersign and log an artifact.
type NotarizeRequest struct {
	Artifact *Artifact `json:"artifact"`
}

// ProofResponse carries a Merkle proof.
type ProofResponse struct {
	Proof []string `json:"proof"`
}

// MaxLogEntriesPage is the most leaves one /v1/log/entries answer holds.
const MaxLogEntriesPage = 256

// EntriesResponse carries log leaves start, start+1, … (the leaf data,
// base64 in JSON): at least one, at most MaxLogEntriesPage, possibly fewer
// than asked for.
type EntriesResponse struct {
	Start   uint64   `json:"start"`
	Entries [][]byte `json:"entries"`
}

// WebSocket frame types.
const (
	FrameAuth     = "AUTH"     // client -> registry: token + signed challenge
	FrameAuthOK   = "AUTH_OK"  // registry -> client
	FrameCallback = "CALLBACK" // registry -> client: a seller envelope
	FrameAck      = "ACK"      // client -> registry: envelope hash processed
	FrameError    = "ERROR"    // registry -> client, then close
)

// MaxWSFrameBytes caps one WebSocket frame in either direction.
const MaxWSFrameBytes = 256 << 10

// WSFrame is the one frame shape on the WebSocket.
type WSFrame struct {
	Type     string    `json:"type"`
	ID       string    `json:"id,omitempty"` // CALLBACK/ACK: envelope hash
	Token    string    `json:"token,omitempty"`
	Auth     *WSAuth   `json:"auth,omitempty"`
	Envelope *Envelope `json:"envelope,omitempty"`
	Message  string    `json:"message,omitempty"`
}

// WSAuth proves the connecting client holds the token's key, fresh.
type WSAuth struct {
	PubKey string `json:"pubkey"`
	TS     int64  `json:"ts"`
	Nonce  string `json:"nonce"`
	Sig    string `json:"sig,omitempty"`
}

func (a *WSAuth) unsigned() WSAuth { c := *a; c.Sig = ""; return c }

// SignWSAuth fills Sig.
func SignWSAuth(a *WSAuth, sign func(Purpose, any) (string, error)) error {
	s, err := sign(PurposeWSAuth, a.unsigned())
	a.Sig = s
	return err
}

// VerifyWSAuth checks the signature by a.PubKey.
func VerifyWSAuth(a *WSAuth) error {
	if err := Verify(a.PubKey, PurposeWSAuth, a.unsigned(), a.Sig); err != nil {
		return Errorf(CodeUnauthorized, "websocket auth: %v", err)
	}
	return nil
}
