package config

import (
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// resolve follows an alias to the node it names. The document was checked
// by checkAliases before the walk, so following aliases cannot loop or
// blow up.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or the YAML null.
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// maxQuoted bounds how much of a value an error message repeats.
const maxQuoted = 64

// describe says what n is, for "want X, got Y" messages: a scalar as
// written (quoted when it is a string), "a mapping" or "a list".
func describe(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
	default:
		return "an alias"
	}
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return "null"
	case "!!int", "!!float", "!!bool", "!!timestamp":
		return short(n.Value)
	case "!!str", "!!merge":
		return quote(n.Value)
	default:
		return tag + " " + quote(n.Value)
	}
}

// quote quotes s as Go would, shortened to maxQuoted runes.
func quote(s string) string { return strconv.Quote(short(s)) }

func short(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return s
	}
	return string([]rune(s)[:maxQuoted]) + "..."
}

// index returns the path of item i of the list at path.
func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// join returns the path of key in the mapping at path. Keys other than
// plain words are quoted, so that the path stays unambiguous.
func join(path, key string) string {
	if !isWord(key) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// asciiLower lower-cases the ASCII letters of s only: Unicode case mapping
// would turn, for one, the Kelvin sign into a valid "k".
func asciiLower(s string) string {
	// Names are mostly written in lower case already: no copy for them.
	upper := false
	for i := 0; i < len(s) && !upper; i++ {
		upper = 'A' <= s[i] && s[i] <= 'Z'
	}
	if !upper {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
