package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// streamSeeds are registry files in the YAML the stream decoder reads,
// written in the ways a registry may be.
var streamSeeds = []string{
	"services:\n- name: a\n  endpoints:\n  - 10.0.0.1\n  - {address: 10.0.0.2, name: b}\n",
	"# head\n\nservices: # the list\n\n  # first\n  - name: a # trailing\n    ports: [ {name: db, port: 1} , ]\n\n    ttl: 30\n# foot\n",
	"services:\n  -\n    name: a\n  - name: b\n    ttl:\n    check:\n  - \n",
	"services:\n  - name: 'it''s'\n    connection: {A: \"\\x41\\u00e9\\U0001F600\\t\\\\\", \"B\": 'x', C: é, D: \"é\", 'E' : 1}\n",
	"services:\n  - name: é\n    connection: {Ä: \"x\", B: yes, C: 0x1F, D: 1_000, E: .inf, F: ~, G: 2001-12-14, H: <<}\n",
	"services:\n  - name: a\n    endpoints: [\n      10.0.0.1, # one\n      \"10.0.0.2\"\n    ]\n    allow: [10.0.0.0/8,\n            fe80::1]\n",
	"services:\n  - name: a\n    ports: &p\n      - {name: db, port: 1}\n    check: &c {type: tcp, interval: 5s}\n  - name: b\n    ports: *p\n    check:\n      <<: *c\n      rise: 2\n  - &s3\n    name: c\n  - <<: *s3\n    ttl: 1\n",
	"services:\n  - name: a\n    connection: {A: &v x, B: *v, C: &w [1], D: *w}\n    check: &c1 {type: tcp}\n  - name: b\n    check: {<<: [*c1, {rise: 2}]}\n",
	"services:\n  - name: a\n    connection: {a:b, \"c\":d, e: f:g, h}\n    allow: [a:b, c , d]\n",
	"services:\n- name: a\n  ports:\n  - name: db\n    port: 1\n  ttl: 30\n- name: b\n",
	"services: [{name: a}, {name: b, ttl: 1}]\n",
	"services: {name: a}\n",
	"services:\n",
	"services: ~\n",
	"  services:\n    - name: a\n",
	"services:\n  - name: a\n    ttl: 30 # \"x\"\n    allow: [ ] #\n    secrets_allow: []#x\n",
	"services:\n  - name: a\n    endpoints: [10.0.0.1 10.0.0.2]\n",
	"services:\n  - name: -a\n    ttl: -1\n    allow: [-x, y]\n    connection:\n      A: :b\n      B: ?c\n      C: {D: e:}\n",
	"services:\n  - name: a\n    check: {port: db,type: tcp}\n    connection: {A: 'x' , B: \"y\"  }\n",
	"services:\n  - name: a\n    connection:\n      A: x\n      A: y\n      \"B\": z\n",
	"services:\n  - name: a\n    endpoints:\n    - 10.0.0.1\n    -   10.0.0.2\n    ttl: 3\n",
	"services:\n  -",
	"services:\n- name: a\n  ttl: 1\n-",
}

// outsideSeeds are registry files the stream decoder gives up on, for the
// tree decoder to read.
var outsideSeeds = []string{
	"services:\n  - name: a\n    x: |\n      literal\n",       // a block scalar
	"services:\n  - name: a\n    x: plain\n      continued\n", // a plain scalar over two lines
	"services:\n  - name: \"two\n      lines\"\n",             // a quoted scalar over two lines
	"services:\n  - name: a\n---\n",                           // a second document
	"services:\n  - name: a\n    ttl: !!str 30\n",             // a tag
	"services:\n  - name: a\n  ttl: 30\n",                     // a key less indented (a syntax error)
	"services:\n  - name: a\n   ttl: 30\n",                    // a key between two indentations
	"other: 1\nservices: []\n",                                // another top-level key
	"services:\n  - name: a\n    endpoints: [*nope]\n",        // an unknown anchor
	"services:\n  - ? name\n    : a\n",                        // a complex key
	"services:\n  - name: a\n    allow: [?y]\n",               // a complex key in flow
}

// TestStreamMatchesTree decodes registry files with the stream decoder and
// with the tree decoder (yaml.v3's whole node tree): the same services and
// the same errors, and the stream decoder reading what it should.
func TestStreamMatchesTree(t *testing.T) {
	spec, err := os.ReadFile(filepath.Join("testdata", "spec-example.yaml"))
	require.NoError(t, err)
	files := map[string]string{
		"spec example":   string(spec),
		"generated":      generatedRegistry(2000, ""),
		"generated, bad": generatedRegistry(2000, "    ttl: soon\n"),
		"ten lines each": registryOf(300),
		"one line":       oneLineRegistry(3000),
	}
	for name, in := range files {
		t.Run(name, func(t *testing.T) {
			assert.True(t, compareDecoders(t, []byte(in)), "the stream decoder gave up")
		})
	}
	for i, in := range slices.Concat(streamSeeds, outsideSeeds, fuzzSeedsYAML) {
		t.Run(fmt.Sprintf("seed %d", i), func(t *testing.T) {
			streamed := compareDecoders(t, []byte(in))
			if i < len(streamSeeds) {
				assert.True(t, streamed, "the stream decoder gave up")
			} else if i < len(streamSeeds)+len(outsideSeeds) {
				assert.False(t, streamed, "the stream decoder read it")
			}
		})
	}
}

// generatedRegistry is a registry as bench/gen writes it, with extra
// added to every 100th service.
func generatedRegistry(n int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %d services for make bench, written by bench/gen.\nservices:\n", n)
	for i := range n {
		fmt.Fprintf(&b, "  - name: svc-%d\n    ports:\n      - name: db\n        port: 5432\n        protocol: tcp\n", i)
		fmt.Fprintf(&b, "    endpoints: [10.%d.%d.1, 10.%d.%d.2, 10.%d.%d.3]\n    connection:\n", i>>8, i&255, i>>8, i&255, i>>8, i&255)
		fmt.Fprintf(&b, "      DB_NAME: \"app%d\"\n      DB_POOL_SIZE: \"10\"\n", i)
		if i%100 == 99 {
			b.WriteString(extra)
		}
	}
	return b.String()
}

// oneLineRegistry is a registry of n services in flow style on one line,
// as JSON is written, with a character of two bytes before each service:
// the columns count characters.
func oneLineRegistry(n int) string {
	var b strings.Builder
	b.WriteString("services: [")
	for i := range n {
		fmt.Fprintf(&b, `{name: "é%d", endpoints: ["10.0.%d.%d"], ttl: 30}, `, i, i>>8, i&255)
	}
	b.WriteString("]\n")
	return b.String()
}

// compareDecoders holds the stream decoder to the tree decoder on data,
// and reports whether the stream decoder read it (rather than giving up).
func compareDecoders(t *testing.T, data []byte) bool {
	t.Helper()
	got, gotErr := ParseYAML("s.yaml", data, testZones)
	d := newDecoder("s.yaml", "YAML", true, testZones)
	if _, ok := d.checkText(data); !ok {
		assert.Equal(t, d.err(), gotErr)
		return false
	}
	want := d.tree(data)
	if len(got) == 0 && len(want) == 0 {
		got, want = nil, nil // "services: []" and no services alike
	}
	assert.Equal(t, want, got)
	assert.Equal(t, d.err(), gotErr)

	nodes, ok := streamNodes(data)
	if ok {
		var doc yaml.Node
		require.NoError(t, yaml.Unmarshal(data, &doc), "the stream decoder read what yaml.v3 refuses")
		var tree []*yaml.Node
		if len(doc.Content) > 0 {
			tree = []*yaml.Node{doc.Content[0].Content[1]}
			if n := tree[0]; n.Kind == yaml.SequenceNode && n.Style&yaml.FlowStyle == 0 {
				tree = n.Content
			}
		}
		require.Equal(t, len(tree), len(nodes))
		for i := range tree {
			sameNode(t, tree[i], nodes[i], fmt.Sprintf("item %d", i))
		}
	}
	return ok
}

// streamNodes returns the nodes the stream decoder reads from data: the
// items of a block list of services, or the value of "services".
func streamNodes(data []byte) (nodes []*yaml.Node, ok bool) {
	d := newDecoder("s.yaml", "YAML", true, testZones)
	if plain, _ := d.checkText(data); !plain {
		return nil, false
	}
	defer func() {
		if r := recover(); r != nil {
			if r != errOutside {
				panic(r)
			}
			nodes, ok = nil, false
		}
	}()
	p := &streamParser{data: data, anchors: make(map[string]*yaml.Node)}
	value, _ := p.document(func(n *yaml.Node) { nodes = append(nodes, n) })
	if value != nil {
		nodes = []*yaml.Node{value}
	}
	return nodes, true
}

// sameNode compares what yaml.v3 made (want) with what the stream decoder
// made (got), down the tree: an alias by where its anchor is.
func sameNode(t *testing.T, want, got *yaml.Node, path string) {
	t.Helper()
	at := fmt.Sprintf("%s, %d:%d", path, want.Line, want.Column)
	require.Equal(t, want.Kind, got.Kind, at)
	require.Equal(t, want.ShortTag(), got.ShortTag(), at)
	require.Equal(t, want.Value, got.Value, at)
	require.Equal(t, want.Anchor, got.Anchor, at)
	require.Equal(t, [2]int{want.Line, want.Column}, [2]int{got.Line, got.Column}, at)
	require.Equal(t, want.Style&^yaml.TaggedStyle, got.Style, at)
	if want.Kind == yaml.AliasNode {
		require.Equal(t, [2]int{want.Alias.Line, want.Alias.Column}, [2]int{got.Alias.Line, got.Alias.Column}, at)
		return
	}
	require.Equal(t, len(want.Content), len(got.Content), at)
	for i := range want.Content {
		sameNode(t, want.Content[i], got.Content[i], fmt.Sprintf("%s/%d", path, i))
	}
}

// FuzzStreamMatchesTree holds the stream decoder to the tree decoder:
// whatever the stream decoder reads, yaml.v3 reads too, into the same
// nodes, and both decode the same services with the same errors.
//
//	go test -run '^$' -fuzz FuzzStreamMatchesTree -parallel 1 ./config/
func FuzzStreamMatchesTree(f *testing.F) {
	for _, s := range slices.Concat(streamSeeds, outsideSeeds, fuzzSeedsYAML) {
		f.Add([]byte(s))
	}
	f.Add([]byte(generatedRegistry(3, "")))
	f.Fuzz(func(t *testing.T, data []byte) {
		compareDecoders(t, data)
	})
}
