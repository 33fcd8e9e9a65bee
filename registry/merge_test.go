package registry

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/tpdns/tpdns/config"
	"github.com/tpdns/tpdns/store"
)

// mergeDocs are stored documents, canonical (as the registry writes them)
// and not: other key orders, spacing, escapes, unknown and repeated
// fields, values of the wrong type, invalid services.
var mergeDocs = []string{
	`{"name":"a"}`,
	`{"name":"svc-1","ports":[{"name":"db","port":5432,"protocol":"tcp"}],"endpoints":[{"address":"10.0.0.1","priority":0,"weight":0,"disabled":false},{"address":"db.example.com","port":5433,"priority":1,"weight":2,"disabled":true}],"connection":{"DB_NAME":"app\u003c1\u003e","DB_PORT":"5432"},"ttl":30,"check":{"type":"tcp","port":"db","interval":"10s","timeout":"2s","rise":1,"fall":3}}`,
	`{"name": "a"}`,
	`{"ttl":30,"name":"a"}`,
	`{"name":"a","ttl":30.0}`,
	`{"name":"a","ttl":"30s"}`,
	`{"name":"a","ttl":30}`,
	`{"name":"a","bogus":1}`,
	`{"NAME":"a"}`,
	`{"name":"a","name":"b"}`,
	`{"name":"a","endpoints":["10.0.0.1"]}`,
	`{"name":"a","endpoints":[{"address":"10.0.0.1"}]}`,
	`{"name":"a","ports":[{"name":"db","port":"5432","protocol":"tcp"}]}`,
	`{"name":"a","connection":{"K":"<&>"}}`,
	`{"name":"a","connection":{"K":"\u003c\u0026\u003e"}}`,
	"{\"name\":\"a\",\"connection\":{\"K\":\"\xff\"}}",
	`{"name":"a","check":{"type":"none"}}`,
	`{"name":"A"}`,
	`{"name":"-a"}`,
	`{"name":"a","ttl":-1}`,
	`{"name":`,
	`[]`,
	`null`,
	``,
}

// TestMergeShortcut: merge decodes a document without registered
// endpoints as the round trip through config.Document does, the service
// and the error.
func TestMergeShortcut(t *testing.T) {
	for _, doc := range mergeDocs {
		want, wantErr := mergeDocument([]byte(doc), nil, opts)
		got, gotErr := merge([]byte(doc), nil, opts)
		if !reflect.DeepEqual(want, got) || fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
			t.Errorf("%s: merge gives %+v, %v; want %+v, %v", doc, got, gotErr, want, wantErr)
		}
		if _, ok := decodeCanonical([]byte(doc), opts); ok && wantErr == nil {
			if b, _ := config.EncodeJSON(want); string(b) != doc {
				t.Errorf("%s: taken as canonical, but encodes as %s", doc, b)
			}
		}
	}
}

func BenchmarkMerge(b *testing.B) {
	doc := []byte(`{"name":"svc-12345","ports":[{"name":"db","port":5432,"protocol":"tcp"}],` +
		`"endpoints":[{"address":"10.0.48.1","priority":0,"weight":0,"disabled":false},` +
		`{"address":"10.0.48.2","priority":0,"weight":0,"disabled":false},` +
		`{"address":"10.0.48.3","priority":0,"weight":0,"disabled":false}],` +
		`"connection":{"DB_NAME":"app12345","DB_POOL_SIZE":"10","DB_SSLMODE":"require","DB_USER":"user12345"}}`)
	if _, ok := decodeCanonical(doc, opts); !ok {
		b.Fatal("the benchmark's document is not canonical")
	}
	for _, bc := range []struct {
		name  string
		merge func([]byte, map[string]store.Endpoint, config.Options) (config.Service, error)
	}{{"shortcut", merge}, {"document", mergeDocument}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := bc.merge(doc, nil, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
