package plugin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"strings"

	"github.com/miekg/dns"
)

// TSIGKey is a TSIG secret (RFC 8945) that the tsig directive defines.
type TSIGKey struct {
	// Algorithm is the key's algorithm (dns.HmacSHA256, dns.HmacSHA384 or
	// dns.HmacSHA512); "" accepts any of them.
	Algorithm string
	Secret    []byte
}

// TSIGKeys are the TSIG keys of a server, by lower-case, fully qualified
// name. They sign and verify as a dns.TsigProvider: a key that is not
// there, or an algorithm that is not the key's or not one of the HMAC-SHA2
// ones, is dns.ErrSecret (BADKEY).
type TSIGKeys map[string]TSIGKey

// tsigHashes are the algorithms TSIGKeys sign and verify with.
var tsigHashes = map[string]func() hash.Hash{
	dns.HmacSHA256: sha256.New,
	dns.HmacSHA384: sha512.New384,
	dns.HmacSHA512: sha512.New,
}

// TSIGAlgorithm returns the canonical name of the algorithm name, and
// whether TSIGKeys supports it.
func TSIGAlgorithm(name string) (string, bool) {
	name = dns.CanonicalName(name)
	_, ok := tsigHashes[name]
	return name, ok
}

func (k TSIGKeys) mac(msg []byte, t *dns.TSIG) ([]byte, error) {
	key, ok := k[strings.ToLower(t.Hdr.Name)]
	alg := dns.CanonicalName(t.Algorithm)
	newHash, known := tsigHashes[alg]
	if !ok || !known || key.Algorithm != "" && key.Algorithm != alg {
		return nil, dns.ErrSecret
	}
	h := hmac.New(newHash, key.Secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

// Generate implements dns.TsigProvider.
func (k TSIGKeys) Generate(msg []byte, t *dns.TSIG) ([]byte, error) { return k.mac(msg, t) }

// Verify implements dns.TsigProvider.
func (k TSIGKeys) Verify(msg []byte, t *dns.TSIG) error {
	want, err := k.mac(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(got, want) {
		return dns.ErrSig
	}
	return nil
}

type tsigKeyKey struct{}

// WithTSIGKey returns a context that says the query was signed with the
// TSIG key name and that its signature is valid.
func WithTSIGKey(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, tsigKeyKey{}, name)
}

// VerifiedTSIGKey returns the name of the TSIG key the query in ctx was
// validly signed with, or "".
func VerifiedTSIGKey(ctx context.Context) string {
	k, _ := ctx.Value(tsigKeyKey{}).(string)
	return k
}
