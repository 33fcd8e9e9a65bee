package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNames(t *testing.T) {
	tests := []struct {
		name string
		svc  Service
		want []string
	}{
		{
			name: "no endpoints",
			svc:  Service{Name: "oracle.finance"},
			want: []string{"oracle.finance"},
		},
		{
			name: "IP endpoints, disabled too",
			svc: Service{Name: "oracle.finance", Endpoints: []Endpoint{
				{Address: "10.0.0.10", Label: "10-0-0-10"},
				{Address: "10.0.0.11", Label: "standby", Disabled: true},
				{Address: "2001:db8::1", Label: "2001-db8--1"},
			}},
			want: []string{"oracle.finance", "10-0-0-10.oracle.finance", "standby.oracle.finance", "2001-db8--1.oracle.finance"},
		},
		{
			name: "host name endpoints have no label",
			svc: Service{Name: "files", Endpoints: []Endpoint{
				{Address: "nas1.example.com"},
				{Address: "nas2.example.com"},
			}},
			want: []string{"files"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.svc.Names())
		})
	}
}
