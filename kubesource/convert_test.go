package kubesource

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tpdns/tpdns/config"
)

var opts = config.Options{Zones: []string{"tp.internal."}}

func spec(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(js), &m))
	return m
}

func secrets(data map[string]map[string][]byte) Secrets {
	return func(name string) (map[string][]byte, error) {
		d, ok := data[name]
		if !ok {
			return nil, errors.New("not found")
		}
		return d, nil
	}
}

func TestConvert(t *testing.T) {
	s, err := Convert("finance", "oracle", spec(t, `{
		"ports": [{"name": "db", "port": 1521, "protocol": "tcp"}],
		"endpoints": [{"address": "192.0.2.10"}, {"address": "192.0.2.11", "name": "standby"}],
		"connection": {"DB_NAME": "orcl"},
		"secretsFrom": {"secretName": "oracle-credentials"},
		"check": {"type": "tcp", "port": "db", "interval": "10s", "timeout": "2s"}
	}`), secrets(map[string]map[string][]byte{"oracle-credentials": {"DB_PASSWORD": []byte("s3cret")}}), opts)
	require.NoError(t, err)
	assert.Equal(t, "oracle.finance", s.Name)
	require.Len(t, s.Endpoints, 2)
	assert.Equal(t, "standby", s.Endpoints[1].Label)
	assert.Equal(t, map[string]string{"DB_PASSWORD": "s3cret"}, s.Secrets)
	assert.Equal(t, map[string]string{"DB_NAME": "orcl"}, s.Connection)
}

func TestConvertErrorsNameTheObjectsFields(t *testing.T) {
	none := secrets(nil)
	for _, tc := range []struct {
		spec, want string
	}{
		{`{"endpoints": [{"address": "192.0.2.1", "port": 70000}]}`, "spec.endpoints[0].port"},
		{`{"endpoints": ["192.0.2.1"], "colour": "blue"}`, "spec.colour"},
		{`{"endpoints": ["192.0.2.1"], "secrets": {"A": "b"}}`, "spec.secrets: not a field of a ThirdPartyService (secrets come from a Secret, by spec.secretsFrom)"},
		{`{"endpoints": ["192.0.2.1"], "name": "x"}`, "spec.name: not a field"},
		{`{"endpoints": ["192.0.2.1"], "secretsFrom": {}}`, "spec.secretsFrom.secretName: missing"},
		{`{"endpoints": ["192.0.2.1"], "secretsFrom": {"secretName": "gone"}}`, "spec.secretsFrom: secret finance/gone: not found"},
	} {
		_, err := Convert("finance", "oracle", spec(t, tc.spec), none, opts)
		require.Error(t, err, tc.spec)
		assert.Contains(t, err.Error(), tc.want, tc.spec)
	}
	_, err := Convert("finance", "oracle", nil, none, opts)
	assert.EqualError(t, err, "spec: missing")
}
