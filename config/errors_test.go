package config

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"everything", Error{File: "services.yaml", Line: 7, Field: "services[0].endpoints[1].port", Msg: "99999 is out of range 1-65535"},
			"services.yaml:7: services[0].endpoints[1].port: 99999 is out of range 1-65535"},
		{"API body", Error{Field: "endpoints[1].port", Msg: "99999 is out of range 1-65535"},
			"endpoints[1].port: 99999 is out of range 1-65535"},
		{"no line", Error{File: "services.yaml", Msg: "unknown anchor 'x' referenced"},
			"services.yaml: unknown anchor 'x' referenced"},
		{"whole document", Error{File: "services.yaml", Line: 1, Msg: "want a mapping"},
			"services.yaml:1: want a mapping"},
		{"line without file", Error{Line: 3, Field: "ttl", Msg: "want an integer"},
			"line 3: ttl: want an integer"},
		{"message only", Error{Msg: "invalid JSON"}, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}
}

func TestErrorList(t *testing.T) {
	list := ErrorList{
		{File: "a.yaml", Line: 2, Field: "services[0].name", Msg: "is required"},
		{File: "a.yaml", Line: 5, Field: "services[1].ttl", Msg: "want an integer, got \"x\""},
	}
	var err error = list
	assert.EqualError(t, err, "a.yaml:2: services[0].name: is required\na.yaml:5: services[1].ttl: want an integer, got \"x\"")

	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Same(t, list[0], e)
}
