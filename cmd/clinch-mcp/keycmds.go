package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

// rootKeyFlag is --key-file of the operator commands: the registry's root
// key file, as the registry daemon uses it. It is never created here.
func rootKeyFlag(env *cliEnv, fs *flag.FlagSet) *string {
	return fs.String("key-file", envOr(env, "CLINCH_REGISTRY_KEY_FILE", ""), "the registry root key file (default registry.key in the data directory)")
}

// loadRootKey reads the registry root key file (default: the data
// directory's registry.key). It must exist and not be readable by others.
func loadRootKey(env *cliEnv, path string) (ed25519.PrivateKey, error) {
	if path == "" {
		path = filepath.Join(dataDir(env), "registry.key")
	}
	k, err := secrets.LoadIdentityFile(path)
	if err != nil {
		return nil, fmt.Errorf("registry root key: %w", err)
	}
	return k, nil
}

// oneDomain returns the single DOMAIN argument of fs, normalised.
func oneDomain(fs *flag.FlagSet, cmd string) (string, error) {
	if fs.NArg() != 1 {
		fs.Usage()
		return "", &exitError{2, fmt.Errorf("%s needs exactly one DOMAIN", cmd)}
	}
	d, err := anp.NormalizeDomain(fs.Arg(0))
	if err != nil {
		return "", &exitError{2, fmt.Errorf("%s: domain: %w", cmd, err)}
	}
	return d, nil
}

// runRegistryGrant prints an enrolment grant for one domain, signed with
// the registry root key: the operator hands it to the seller, whose first
// binding of the domain redeems it.
func runRegistryGrant(_ context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "registry grant", "registry grant DOMAIN [--ttl 24h] [--key-file FILE]",
		"Prints a one-domain, single-use enrolment grant, signed offline with the registry root key (the file the\n"+
			"registry daemon uses). The seller puts it in its config as \"grant\", or in a file named by \"grant_file\"\n"+
			"(mode 0600). It is a secret until it is redeemed: the registry accepts it once, for DOMAIN, before it expires.")
	ttl := fs.Duration("ttl", 24*time.Hour, fmt.Sprintf("how long the grant may be redeemed (at most %s)", anp.MaxGrantTTL))
	keyFile := rootKeyFlag(env, fs)
	if err := parseFlags(fs, reorderArgs(args)); err != nil {
		return err
	}
	domain, err := oneDomain(fs, "registry grant")
	if err != nil {
		return err
	}
	if *ttl <= 0 || *ttl > anp.MaxGrantTTL {
		return &exitError{2, fmt.Errorf("--ttl %s must be positive and at most %s", *ttl, anp.MaxGrantTTL)}
	}
	root, err := loadRootKey(env, *keyFile)
	if err != nil {
		return err
	}
	claims, err := anp.NewGrantClaims(domain, time.Now(), *ttl)
	if err != nil {
		return err
	}
	grant, err := anp.IssueGrant(claims, anp.Signer(root))
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, grant)
	fmt.Fprintf(env.stderr, "clinch-mcp: enrolment grant for %s (id %s), single use, valid until %s\n",
		domain, claims.ID, time.UnixMilli(claims.Exp).UTC().Format(time.RFC3339))
	return nil
}

// runRegistryRevoke revokes a domain's key as the registry operator, with
// the root key: for a seller whose key is lost or stolen.
func runRegistryRevoke(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "registry revoke", "registry revoke DOMAIN --registry URL [--key-file FILE]",
		"Revokes the key bound to DOMAIN, signed with the registry root key, and has the registry log it. The domain\n"+
			"then has no usable key: no listing and no new session, until the seller binds a new key with a new grant.")
	reg := fs.String("registry", envOr(env, "CLINCH_REGISTRY", ""), "registry URL (env CLINCH_REGISTRY); required")
	keyFile := rootKeyFlag(env, fs)
	if err := parseFlags(fs, reorderArgs(args)); err != nil {
		return err
	}
	domain, err := oneDomain(fs, "registry revoke")
	if err != nil {
		return err
	}
	if *reg == "" {
		return &exitError{2, fmt.Errorf("registry revoke: --registry is required")}
	}
	root, err := loadRootKey(env, *keyFile)
	if err != nil {
		return err
	}
	c := registry.NewClient(*reg, root, registry.ClientOptions{RootKey: anp.PublicKeyHex(root.Public().(ed25519.PublicKey)), Logger: zerolog.Nop()})
	e, err := c.RevokeKeyAsOperator(ctx, domain, root)
	if err != nil {
		return fmt.Errorf("revoke the key of %s: %w", domain, err)
	}
	printKeyEvent(env, e)
	return nil
}

// sellerKeyFlags are the flags of seller rotate and seller revoke.
type sellerKeyFlags struct {
	config string
	newKey string
}

// load reads the seller config (mode-checked) and its key.
func (f *sellerKeyFlags) load() (domain, registryURL string, key ed25519.PrivateKey, err error) {
	if f.config == "" {
		return "", "", nil, &exitError{2, fmt.Errorf("--config is required")}
	}
	fc, _, err := loadSellerConfig(f.config)
	if err != nil {
		return "", "", nil, err
	}
	key, err = secrets.LoadIdentityFile(fc.KeyFile)
	if err != nil {
		return "", "", nil, fmt.Errorf("seller key: %w", err)
	}
	return fc.Domain, fc.Registry, key, nil
}

// runSellerRotate hands the configured domain over from key_file to the
// key in --new-key: both sign the rotation and the registry logs it.
func runSellerRotate(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "seller rotate", "seller rotate --config FILE --new-key FILE",
		"Rotates the domain of the seller config from its key_file to the key in --new-key (create it with\n"+
			"clinch-mcp keygen --out FILE). Both keys sign; the registry logs the rotation and binds the new key.\n"+
			"Then set key_file to the new key and restart the seller: it publishes its endpoint record signed by\n"+
			"the new key. Deals signed with the old key stay verifiable (clinch-mcp verify).")
	var f sellerKeyFlags
	fs.StringVar(&f.config, "config", envOr(env, "CLINCH_SELLER_CONFIG", ""), "seller config JSON")
	fs.StringVar(&f.newKey, "new-key", "", "the new key file; required")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if f.newKey == "" {
		fs.Usage()
		return &exitError{2, fmt.Errorf("--new-key is required")}
	}
	domain, regURL, key, err := f.load()
	if err != nil {
		return err
	}
	newKey, err := secrets.LoadIdentityFile(f.newKey)
	if err != nil {
		return fmt.Errorf("new key: %w", err)
	}
	c := registry.NewClient(regURL, key, registry.ClientOptions{Logger: zerolog.Nop()})
	e, err := c.RotateKey(ctx, domain, newKey)
	if err != nil {
		return fmt.Errorf("rotate the key of %s: %w", domain, err)
	}
	printKeyEvent(env, e)
	fmt.Fprintf(env.stdout, "next: set \"key_file\" in %s to %s and restart the seller\n", f.config, f.newKey)
	return nil
}

// runSellerRevoke revokes the configured key of the seller's domain.
func runSellerRevoke(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "seller revoke", "seller revoke --config FILE",
		"Revokes the key in the config's key_file, signed by that key; the registry logs it, stops listing the\n"+
			"domain and refuses new sessions with it until the registry operator grants the domain again.")
	var f sellerKeyFlags
	fs.StringVar(&f.config, "config", envOr(env, "CLINCH_SELLER_CONFIG", ""), "seller config JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	domain, regURL, key, err := f.load()
	if err != nil {
		return err
	}
	c := registry.NewClient(regURL, key, registry.ClientOptions{Logger: zerolog.Nop()})
	e, err := c.RevokeKey(ctx, domain)
	if err != nil {
		return fmt.Errorf("revoke the key of %s: %w", domain, err)
	}
	printKeyEvent(env, e)
	return nil
}

// printKeyEvent prints a logged key event on one line.
func printKeyEvent(env *cliEnv, e *anp.KeyEventEntry) {
	fmt.Fprintln(env.stdout, describeKeyEvent(&e.Leaf.Event, e.LeafIndex))
}

// describeKeyEvent names a key event: "key event 1 of shop.anp at log index 7: rotate ab12… -> cd34… (by key)".
func describeKeyEvent(ev *anp.KeyEvent, leafIndex uint64) string {
	var what string
	switch {
	case ev.Change != nil && ev.Kind == anp.KeyEventRotate:
		what = fmt.Sprintf("rotate %s… -> %s… (signed by both keys)", shortHex(ev.Change.Change.Key), shortHex(ev.Key))
	case ev.Change != nil:
		what = fmt.Sprintf("revoke %s… (by the %s)", shortHex(ev.Key), strings.Replace(ev.Change.Change.By, "key", "key itself", 1))
	case ev.Bind == nil:
		what = fmt.Sprintf("bind %s… (bound before key events were logged)", shortHex(ev.Key))
	case ev.Grant == "":
		what = fmt.Sprintf("bind %s… (open enrollment)", shortHex(ev.Key))
	default:
		what = fmt.Sprintf("bind %s… (grant %s)", shortHex(ev.Key), ev.Grant)
	}
	return fmt.Sprintf("key event %d of %s at log index %d: %s", ev.Seq, ev.Domain, leafIndex, what)
}
