package config

import (
	"strconv"
	"strings"
)

// Error is one problem in a registry file or API body.
type Error struct {
	File  string // "" for API bodies
	Line  int    // 0 when unknown
	Field string // path of the offending field: "services[2].endpoints[1].port"; "" for the whole document
	Msg   string
}

// Error formats e as "FILE:LINE: FIELD: MSG", leaving out the parts that
// are empty or zero, so that an API body's error reads "FIELD: MSG". A
// line without a file reads "line LINE: ", as a bare number would be
// mistaken for part of the message.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		b.WriteString(e.File + ":" + strconv.Itoa(e.Line) + ": ")
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every error found, in document order.
type ErrorList []*Error

// Error joins the errors' texts with "\n", one error a line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the errors of l, so that errors.As finds an *Error in it.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}
