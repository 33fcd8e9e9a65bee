package config

import "testing"

// benchDoc is a service as the etcd store keeps it, of the shape of the
// scale benchmark's (bench/gen): what a replica decodes 100,000 times.
const benchDoc = `{"name":"svc-12345","ports":[{"name":"db","port":5432,"protocol":"tcp"}],` +
	`"endpoints":[{"address":"10.0.48.1","priority":0,"weight":0,"disabled":false},` +
	`{"address":"10.0.48.2","priority":0,"weight":0,"disabled":false},` +
	`{"address":"10.0.48.3","priority":0,"weight":0,"disabled":false}],` +
	`"connection":{"DB_NAME":"app12345","DB_POOL_SIZE":"10","DB_SSLMODE":"require","DB_USER":"user12345"}}`

func BenchmarkDecodeJSON(b *testing.B) {
	opts := Options{Zones: []string{"tp.internal."}}
	for _, bc := range []struct {
		name   string
		decode func([]byte, Options) (Service, error)
	}{{"tree", DecodeJSON}, {"yaml", decodeJSONViaYAML}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := bc.decode([]byte(benchDoc), opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
