package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// writeJSON writes raw, a reply of the server, indented by two spaces,
// its keys in the server's order.
func writeJSON(w io.Writer, raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return fmt.Errorf("reply is not JSON: %w", err)
	}
	b.WriteByte('\n')
	_, err := b.WriteTo(w)
	return err
}

// decode reads a reply of the server.
func decode[T any](raw []byte) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("reply: %w", err)
	}
	return v, nil
}

// report tells of a write: the reply with -o json (nothing for an empty
// one, as a 204 is), else the message.
func (c *call) report(raw []byte, message string) error {
	if c.opts.output == outputJSON {
		if len(raw) == 0 {
			return nil
		}
		return writeJSON(c.stdout, raw)
	}
	_, err := fmt.Fprintln(c.stdout, message)
	return err
}
