package thirdparty

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tpdns/tpdns/config"
)

// role is what an API token may do; each role may do what the ones
// before it may, and more.
type role int

// The roles, weakest first. An action is the least role it needs.
const (
	roleRead     role = iota + 1 // GET
	roleRegister                 // PUT and DELETE of endpoints
	roleWrite                    // PUT and DELETE of services
	roleAdmin                    // everything
)

var roleNames = map[string]role{"read": roleRead, "register": roleRegister, "write": roleWrite, "admin": roleAdmin}

func (r role) String() string {
	for name, v := range roleNames {
		if v == r {
			return name
		}
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// tokenFileName is the name the token of token_file goes by in the logs
// and in 403 replies; a tokens file may not use it.
const tokenFileName = "token_file"

// apiToken is a bearer token the API accepts: who it is (never the token
// itself), its role and the services it may touch.
type apiToken struct {
	name  string
	role  role
	scope []string // globs (path.Match) on service names; nil: every service
}

// may reports whether t may do act (the role it needs) to the service
// name.
func (t *apiToken) may(act role, name string) bool {
	return t.role >= act && t.inScope(name)
}

// inScope reports whether the service name is among t's.
func (t *apiToken) inScope(name string) bool {
	if t.scope == nil {
		return true
	}
	for _, g := range t.scope {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// tokenTable is every token the API accepts, by the SHA-256 of the token.
// A request's token is hashed and looked up: the comparison never runs
// over the secret byte by byte, and the table holds no secret at all.
type tokenTable map[[sha256.Size]byte]*apiToken

// lookup returns the token presented, or nil.
func (tt tokenTable) lookup(presented string) *apiToken {
	return tt[sha256.Sum256([]byte(presented))]
}

// newTokenTable is the table of the token_file's token (admin) and those
// of a tokens file. The token_file's wins over a file entry of the same
// token.
func newTokenTable(admin []byte, file []fileToken) tokenTable {
	tt := make(tokenTable, len(file)+1)
	for i := range file {
		tt[file[i].sum] = &file[i].apiToken
	}
	tt[sha256.Sum256(admin)] = &apiToken{name: tokenFileName, role: roleAdmin}
	return tt
}

// fileToken is an entry of a tokens file.
type fileToken struct {
	apiToken
	sum [sha256.Size]byte
}

// tokenName is what a token's name may be: it is written in logs and
// replies, so nothing that could pass for something else there.
var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}$`)

// tokenFields are the keys of an entry of a tokens file.
var tokenFields = []string{"name", "sha256", "role", "services"}

// parseTokens decodes a tokens file (SPEC section 5):
//
//	tokens:
//	  - name: ci-finance
//	    sha256: 9f86d081...   # hex SHA-256 of the token
//	    role: write           # read | register | write | admin
//	    services: ["finance.*", "billing"]   # default: every service
//
// It is strict: an unknown key, a missing or invalid value, a name or
// token given twice is an error. It returns every error, as a
// config.ErrorList of "FILE:LINE: FIELD: message", and no token when there
// is any. An empty file has no tokens.
func parseTokens(file string, data []byte) ([]fileToken, error) {
	p := &tokenParser{file: file}
	root := p.document(data)
	var tokens []fileToken
	if root != nil {
		tokens = p.tokens(root)
	}
	if len(p.errs) > 0 {
		// In file order: an entry's fields are checked after its keys.
		slices.SortStableFunc(p.errs, func(x, y *config.Error) int { return x.Line - y.Line })
		return nil, p.errs
	}
	return tokens, nil
}

// loadTokens reads and parses a tokens file.
func loadTokens(file string) ([]fileToken, []byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("api tokens: %w", err)
	}
	tokens, err := parseTokens(file, data)
	return tokens, data, err
}

// tokenParser collects the errors of one tokens file.
type tokenParser struct {
	file string
	errs config.ErrorList
}

func (p *tokenParser) errorf(n *yaml.Node, field, format string, args ...any) {
	e := &config.Error{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
	}
	p.errs = append(p.errs, e)
}

// yamlLinePrefix is the position yaml.v3 puts in front of its messages.
var yamlLinePrefix = regexp.MustCompile(`^line (\d+): `)

// document parses data, one YAML document, and returns its root; nil
// when it is empty or invalid.
func (p *tokenParser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			p.syntaxError(err)
		}
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		at := &next
		if len(next.Content) > 0 {
			at = next.Content[0]
		}
		p.errorf(at, "", "a second YAML document; the tokens file is one document")
		return nil
	} else if !errors.Is(err, io.EOF) {
		p.syntaxError(err)
		return nil
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

func (p *tokenParser) syntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &config.Error{File: p.file}
	if m := yamlLinePrefix.FindStringSubmatch(msg); m != nil {
		msg = msg[len(m[0]):]
		e.Line, _ = strconv.Atoi(m[1])
	}
	e.Msg = "invalid YAML: " + msg
	p.errs = append(p.errs, e)
}

// tokens decodes the root: a mapping with the one key "tokens".
func (p *tokenParser) tokens(root *yaml.Node) []fileToken {
	if isNullNode(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "", `want a mapping with the key "tokens", got %s`, kindOf(root))
		return nil
	}
	list, ok := p.fields(root, "", []string{"tokens"})["tokens"]
	if !ok || isNullNode(list) {
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		p.errorf(list, "tokens", "want a list, got %s", kindOf(list))
		return nil
	}
	var (
		out     []fileToken
		names   = map[string]int{}               // name → line
		sums    = map[[sha256.Size]byte]string{} // token → name
		sumLine = map[[sha256.Size]byte]int{}
	)
	for i, n := range list.Content {
		field := fmt.Sprintf("tokens[%d]", i)
		t, ok := p.token(n, field)
		if !ok {
			continue
		}
		if line, dup := names[t.name]; dup {
			p.errorf(n, field+".name", "%s is the name of another token (line %d)", t.name, line)
			continue
		}
		names[t.name] = n.Line
		if other, dup := sums[t.sum]; dup {
			p.errorf(n, field+".sha256", "the same token as %s (line %d)", other, sumLine[t.sum])
			continue
		}
		sums[t.sum], sumLine[t.sum] = t.name, n.Line
		out = append(out, t)
	}
	return out
}

// token decodes one entry of the list.
func (p *tokenParser) token(n *yaml.Node, field string) (fileToken, bool) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, field, "want a mapping with name, sha256, role and services, got %s", kindOf(n))
		return fileToken{}, false
	}
	before := len(p.errs)
	f := p.fields(n, field, tokenFields)
	var t fileToken
	for _, key := range []string{"name", "sha256", "role"} {
		if _, ok := f[key]; !ok {
			p.errorf(n, field+"."+key, "missing")
		}
	}
	if v, ok := p.str(f, "name", field); ok {
		switch {
		case !tokenName.MatchString(v):
			p.errorf(f["name"], field+".name", "%q is not a name: letters, digits and . _ @ : -, at most 64, starting with a letter or digit", v)
		case v == tokenFileName:
			p.errorf(f["name"], field+".name", "%s is the name of the token_file's token", v)
		}
		t.name = v
	}
	if v, ok := p.str(f, "sha256", field); ok {
		b, err := hex.DecodeString(v)
		if err != nil || len(b) != sha256.Size {
			p.errorf(f["sha256"], field+".sha256", "want the SHA-256 of the token, 64 hex digits (sha256sum), got %q", clip(v))
		} else {
			copy(t.sum[:], b)
		}
	}
	if v, ok := p.str(f, "role", field); ok {
		if r, known := roleNames[v]; known {
			t.role = r
		} else {
			p.errorf(f["role"], field+".role", "want read, register, write or admin, got %q", clip(v))
		}
	}
	if n, ok := f["services"]; ok {
		t.scope = p.scope(n, field+".services")
		if t.role == roleAdmin {
			p.errorf(n, field+".services", "an admin token has every service; leave services out")
		}
	}
	return t, len(p.errs) == before
}

// scope decodes a token's services: a list of globs.
func (p *tokenParser) scope(n *yaml.Node, field string) []string {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, field, "want a list of service names or globs, got %s", kindOf(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(n, field, "empty: a token with no service could do nothing; leave services out for every service")
		return nil
	}
	globs := make([]string, 0, len(n.Content))
	for i, g := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		if g.Kind != yaml.ScalarNode || isNullNode(g) || g.Value == "" {
			p.errorf(g, f, "want a service name or glob, got %s", kindOf(g))
			continue
		}
		glob := strings.ToLower(strings.TrimSuffix(g.Value, "."))
		if _, err := path.Match(glob, ""); err != nil {
			p.errorf(g, f, "%q is not a glob: %v", clip(g.Value), err)
			continue
		}
		if !slices.Contains(globs, glob) {
			globs = append(globs, glob)
		}
	}
	return globs
}

// fields returns the values of mapping n by key, reporting keys that are
// not scalars, repeated or not in known.
func (p *tokenParser) fields(n *yaml.Node, field string, known []string) map[string]*yaml.Node {
	got := map[string]*yaml.Node{}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := joinField(field, k.Value)
		switch {
		case k.Kind != yaml.ScalarNode:
			p.errorf(k, field, "want a string key, got %s", kindOf(k))
		case k.ShortTag() == "!!merge":
			p.errorf(k, field, "merge keys (<<) are not supported here")
		case !slices.Contains(known, k.Value):
			p.errorf(k, name, "unknown field; want one of %s", strings.Join(known, ", "))
		case lines[k.Value] > 0:
			p.errorf(k, name, "repeated key (first at line %d)", lines[k.Value])
		default:
			got[k.Value], lines[k.Value] = v, k.Line
		}
	}
	return got
}

// str returns the string value of key in f, reporting a value that is not
// one; false when it is absent or wrong.
func (p *tokenParser) str(f map[string]*yaml.Node, key, field string) (string, bool) {
	n, ok := f[key]
	if !ok {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || isNullNode(n) || n.Value == "" {
		p.errorf(n, field+"."+key, "want a string, got %s", kindOf(n))
		return "", false
	}
	return n.Value, true
}

func joinField(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func isNullNode(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kindOf says what n is, for "want X, got Y".
func kindOf(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.AliasNode:
		return "an alias (not supported here)"
	case isNullNode(n) || n.Value == "":
		return "nothing"
	}
	return strconv.Quote(clip(n.Value))
}

// clip shortens what an error message repeats of a value.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// tokenWatch polls a tokens file and swaps the table of its server when
// the file changes. A file that cannot be read, or is invalid, leaves the
// last good tokens in force and is reported once, not at every poll.
type tokenWatch struct {
	a        *apiServer
	file     string
	admin    []byte
	loaded   [sha256.Size]byte // content of the tokens in force
	rejected [sha256.Size]byte // content last found invalid
	readErr  string
	quit     chan struct{}
	done     chan struct{}
}

// watchTokens begins polling the tokens file of a every interval.
func (a *apiServer) watchTokens(file string, admin, data []byte, interval time.Duration) {
	w := &tokenWatch{a: a, file: file, admin: admin, loaded: sha256.Sum256(data),
		quit: make(chan struct{}), done: make(chan struct{})}
	a.tokenWatch = w
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-t.C:
				w.poll()
			}
		}
	}()
}

// stop ends the polling and waits for it.
func (w *tokenWatch) stop() {
	close(w.quit)
	<-w.done
}

func (w *tokenWatch) poll() {
	data, err := os.ReadFile(w.file)
	if errors.Is(err, fs.ErrNotExist) {
		// Deleting the file revokes its tokens: a credential fails closed.
		if w.loaded != ([sha256.Size]byte{}) || w.readErr == "" {
			w.loaded, w.rejected, w.readErr = [sha256.Size]byte{}, [sha256.Size]byte{}, err.Error()
			tt := newTokenTable(w.admin, nil)
			w.a.tokens.Store(&tt)
			tokenReloads.WithLabelValues("success").Inc()
			log.Printf("[WARNING] plugin/thirdparty: api tokens %s is gone: its tokens are revoked, the token_file's remains", w.file)
		}
		return
	}
	if err != nil {
		if err.Error() != w.readErr {
			w.readErr = err.Error()
			tokenReloads.WithLabelValues("failure").Inc()
			log.Printf("[ERROR] plugin/thirdparty: api tokens: %v; the last good tokens stay in force", err)
		}
		return
	}
	w.readErr = ""
	sum := sha256.Sum256(data)
	if sum == w.loaded || sum == w.rejected {
		return
	}
	tokens, err := parseTokens(w.file, data)
	if err != nil {
		w.rejected = sum
		tokenReloads.WithLabelValues("failure").Inc()
		log.Printf("[ERROR] plugin/thirdparty: api tokens %s is invalid; the last good tokens stay in force", w.file)
		for _, line := range strings.Split(err.Error(), "\n") {
			log.Printf("[ERROR] plugin/thirdparty: %s", line)
		}
		return
	}
	w.loaded, w.rejected = sum, [sha256.Size]byte{}
	tt := newTokenTable(w.admin, tokens)
	w.a.tokens.Store(&tt)
	tokenReloads.WithLabelValues("success").Inc()
	log.Printf("[INFO] plugin/thirdparty: api tokens %s: %d tokens", w.file, len(tokens))
}
