package server

import (
	"fmt"
	"io"
	"os"

	"github.com/coredns/caddy"

	"github.com/tpdns/tpdns/plugin"
)

// DefaultPort is the port of server blocks that name none, unless the
// Input says otherwise.
const DefaultPort = "53"

// Input is a Corefile together with the settings the command line gives it.
// It implements caddy.Input.
type Input struct {
	// Filename names the Corefile in error messages.
	Filename string
	// Contents is the Corefile text.
	Contents []byte
	// Port is the port of server blocks that name none; DefaultPort if empty.
	Port string
	// Quiet suppresses the list of served zones printed at start-up.
	Quiet bool

	// inspect, when set, is given the context after the Corefile is set
	// up; Validate uses it to check what only MakeServers would.
	inspect func(*dnsContext)
}

// ReadInput reads the Corefile at path; "-" reads standard input.
func ReadInput(path string) (Input, error) {
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = io.ReadAll(os.Stdin)
		path = "stdin"
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return Input{}, fmt.Errorf("reading Corefile: %w", err)
	}
	return Input{Filename: path, Contents: b}, nil
}

// Body implements caddy.Input.
func (in Input) Body() []byte { return in.Contents }

// Path implements caddy.Input.
func (in Input) Path() string { return in.Filename }

// ServerType implements caddy.Input.
func (in Input) ServerType() string { return plugin.ServerType }

func (in Input) port() string {
	if in.Port == "" {
		return DefaultPort
	}
	return in.Port
}

// WithContents implements plugin.Reloadable.
func (in Input) WithContents(contents []byte) caddy.Input {
	in.Contents = contents
	return in
}
