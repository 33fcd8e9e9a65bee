package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTXTExpand: made keys per port and zone, a written key wins,
// references to connection (written or made) and, from secrets, to
// secrets, and $$.
func TestTXTExpand(t *testing.T) {
	in := `services:
  - name: oracle.finance
    ports:
      - {name: db, port: 1521}
      - {name: em-console, port: 5500}
      - {name: admin, port: 9000}
    connection:
      DB_NAME: orcl
      ADMIN_PORT: "9443"
      JDBC_URL: "jdbc:oracle:thin:@//${DB_HOST}:${DB_PORT}/${DB_NAME}"
      PRICE: "$$5 for ${ADMIN_PORT}$$"
      NESTED: "<${JDBC_URL}>"
    secrets:
      DB_PASSWORD: s3cret
      DSN: "app/${DB_PASSWORD}@${DB_HOST}"
  - name: bare
`
	services, err := ParseYAML("services.yaml", []byte(in), testZones)
	require.NoError(t, err)
	// What was written stays as written: the API shows it.
	assert.Equal(t, "jdbc:oracle:thin:@//${DB_HOST}:${DB_PORT}/${DB_NAME}", services[0].Connection["JDBC_URL"])
	conn, secrets := services[0].TXT("tp.internal.")
	assert.Equal(t, map[string]string{
		"DB_HOST":         "oracle.finance.tp.internal",
		"DB_PORT":         "1521",
		"EM_CONSOLE_HOST": "oracle.finance.tp.internal",
		"EM_CONSOLE_PORT": "5500",
		"ADMIN_HOST":      "oracle.finance.tp.internal",
		"ADMIN_PORT":      "9443",
		"DB_NAME":         "orcl",
		"JDBC_URL":        "jdbc:oracle:thin:@//oracle.finance.tp.internal:1521/orcl",
		"PRICE":           "$5 for 9443$",
		"NESTED":          "<jdbc:oracle:thin:@//oracle.finance.tp.internal:1521/orcl>",
	}, conn)
	assert.Equal(t, map[string]string{
		"DB_PASSWORD": "s3cret",
		"DSN":         "app/s3cret@oracle.finance.tp.internal",
	}, secrets)
	// Another zone, another host.
	conn, _ = services[0].TXT("example.org.")
	assert.Equal(t, "oracle.finance.example.org", conn["DB_HOST"])
	assert.Equal(t, "jdbc:oracle:thin:@//oracle.finance.example.org:1521/orcl", conn["JDBC_URL"])
	conn, secrets = services[1].TXT("tp.internal.")
	assert.Nil(t, conn)
	assert.Nil(t, secrets)
}

func TestTXTExpandErrors(t *testing.T) {
	long := strings.Repeat("x", 230)
	for _, tt := range []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "references",
			in: `services:
  - name: a
    ports: [{name: db, port: 1}]
    connection:
      UNKNOWN: "${NOPE}"
      TO_SECRET: "${PASS}"
      LONE: "costs 5$"
      LONE2: "$x"
      OPEN: "${DB_HOST"
      BAD: "${1X}"
      USES_BAD: "${UNKNOWN}"
      OK: "${DB_HOST}"
    secrets:
      PASS: "p"
      S_UNKNOWN: "${MISSING}"
      S_OK: "${PASS}${OK}"
`,
			want: []string{
				`services.yaml:5: services[0].connection.UNKNOWN: ${NOPE} is not a key of connection`,
				`services.yaml:6: services[0].connection.TO_SECRET: ${PASS} is a secret; connection is served to every client and may not refer to one`,
				`services.yaml:7: services[0].connection.LONE: a $ starts a reference ${KEY}; write $$ for a $ of its own`,
				`services.yaml:8: services[0].connection.LONE2: a $ starts a reference ${KEY}; write $$ for a $ of its own`,
				`services.yaml:9: services[0].connection.OPEN: ${ has no closing }`,
				`services.yaml:10: services[0].connection.BAD: ${1X} is not a key: keys match [A-Za-z_][A-Za-z0-9_]*`,
				`services.yaml:15: services[0].secrets.S_UNKNOWN: ${MISSING} is not a key of connection or secrets`,
			},
		},
		{
			name: "cycles",
			in: `services:
  - name: a
    connection:
      A: "${B}"
      B: "x${A}"
      SELF: "${SELF}"
      C: "${A}"
    secrets:
      S1: "${S2}"
      S2: "${S1}"
`,
			want: []string{
				`services.yaml:5: services[0].connection.B: ${A} makes a cycle: A -> B -> A`,
				`services.yaml:6: services[0].connection.SELF: ${SELF} makes a cycle: SELF -> SELF`,
				`services.yaml:10: services[0].secrets.S2: ${S1} makes a cycle: S1 -> S2 -> S1`,
			},
		},
		{
			name: "expanded length in the longest zone",
			in: `services:
  - name: a
    ports: [{name: db, port: 1}]
    connection:
      FITS: "` + long + `"
      ALMOST: "` + long[:200] + `${DB_HOST}"
      TOO_LONG: "${FITS}${FITS}"
    secrets:
      S: "${FITS}${DB_PORT}${FITS}"
`,
			want: []string{
				`services.yaml:7: services[0].connection.TOO_LONG: TOO_LONG=… is 469 octets expanded in zone "tp.internal.", more than the 255 a TXT string holds`,
				`services.yaml:9: services[0].secrets.S: S=… is 463 octets expanded in zone "tp.internal.", more than the 255 a TXT string holds`,
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseYAML("services.yaml", []byte(tt.in), testZones)
			require.Error(t, err)
			assert.Equal(t, strings.Join(tt.want, "\n"), err.Error())
		})
	}
}

// TestTXTExpandLongestZone: the 255 octets are checked in the longest zone
// the file is served in.
func TestTXTExpandLongestZone(t *testing.T) {
	in := `services:
  - name: a
    ports: [{name: db, port: 1}]
    connection:
      URL: "` + strings.Repeat("x", 230) + `${DB_HOST}"
`
	_, err := ParseYAML("services.yaml", []byte(in), Options{Zones: []string{"z."}})
	require.NoError(t, err, "URL=x…x.a.z is 246 octets")
	_, err = ParseYAML("services.yaml", []byte(in), Options{Zones: []string{"z.", "a-much-longer-zone.example.org."}})
	require.EqualError(t, err, `services.yaml:5: services[0].connection.URL: URL=… is 266 octets expanded in zone "a-much-longer-zone.example.org.", more than the 255 a TXT string holds`)
}

func TestTXTExpandJSON(t *testing.T) {
	_, err := DecodeJSON([]byte(`{"name": "a", "ports": [{"name": "db", "port": 1}], "connection": {"URL": "${DB_HOST}:${X}"}, "secrets": {"P": "$"}}`), testZones)
	require.EqualError(t, err, "connection.URL: ${X} is not a key of connection\nsecrets.P: a $ starts a reference ${KEY}; write $$ for a $ of its own")
	s, err := DecodeJSON([]byte(`{"name": "a", "ports": [{"name": "db", "port": 1}], "connection": {"URL": "${DB_HOST}:${DB_PORT}"}}`), testZones)
	require.NoError(t, err)
	conn, _ := s.TXT("tp.internal.")
	assert.Equal(t, "a.tp.internal:1", conn["URL"])
}
