package main

import (
	"io"
	"strings"
	"unicode/utf8"
)

// table is rows of cells written in columns two spaces apart, the first
// row usually the header. It is not text/tabwriter because tabwriter
// counts colour escape sequences in a cell's width.
type table struct {
	rows [][]string
	// indent starts every line.
	indent string
	// color, when set, gives the ANSI SGR parameter ("32" for green) of a
	// cell, or "" for none.
	color func(row, col int) string
}

// add appends a row.
func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// write writes the table to w, the last cell of a line unpadded.
func (t *table) write(w io.Writer) error {
	var widths []int
	for _, row := range t.rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for r, row := range t.rows {
		b.WriteString(t.indent)
		for c, cell := range row {
			if c > 0 {
				b.WriteString("  ")
			}
			if code := t.colorOf(r, c); code != "" {
				b.WriteString("\x1b[" + code + "m" + cell + "\x1b[0m")
			} else {
				b.WriteString(cell)
			}
			if c < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[c]-utf8.RuneCountInString(cell)))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (t *table) colorOf(row, col int) string {
	if t.color == nil {
		return ""
	}
	return t.color(row, col)
}
