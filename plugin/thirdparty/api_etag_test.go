package thirdparty_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAPIETag: GET one store service has an ETag, its revision; PUT with
// If-None-Match: * creates only, with If-Match replaces only that
// revision; DELETE with If-Match likewise. Every reply is checked whole.
func TestAPIETag(t *testing.T) {
	f := startAPIServer(t, "")
	const svc = "/v1/services/billing"
	put := func(body string, header ...string) (int, string, string) {
		t.Helper()
		status, reply, h := f.request(t, "PUT", svc, body, f.token, header...)
		return status, reply, h.Get("ETag")
	}
	getTag := func() string {
		t.Helper()
		status, body, h := f.request(t, "GET", svc, "", f.token)
		require.Equal(t, http.StatusOK, status, body)
		return h.Get("ETag")
	}
	failed := func(msg string) string { return fmt.Sprintf(`{"error":%q,"field":""}`, msg) }

	// If-Match on a service that does not exist: 412, nothing created.
	status, body, _ := put(`{"endpoints":["192.0.2.1"]}`, "If-Match", `"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, status)
	assert.JSONEq(t, failed(`service billing does not exist (If-Match: "1")`), body)
	status, _, _ = put(`{"endpoints":["192.0.2.1"]}`, "If-Match", "*")
	assert.Equal(t, http.StatusPreconditionFailed, status)
	assert.Nil(t, f.addresses(t, "billing"))

	// If-None-Match: * creates.
	status, body, created := put(`{"endpoints":["192.0.2.1"]}`, "If-None-Match", "*")
	require.Equal(t, http.StatusCreated, status, body)
	assert.Regexp(t, `^"[0-9]+"$`, created)
	assert.Equal(t, created, getTag(), "GET shows the revision PUT made")

	// ...and only creates.
	status, body, tag := put(`{"endpoints":["192.0.2.2"]}`, "If-None-Match", "*")
	assert.Equal(t, http.StatusPreconditionFailed, status)
	assert.JSONEq(t, failed(`service billing already exists (If-None-Match: *)`), body)
	assert.Equal(t, created, tag, "a 412 tells the revision")
	assert.Equal(t, []string{"192.0.2.1"}, f.addresses(t, "billing"))

	// If-Match replaces that revision only.
	status, body, replaced := put(`{"endpoints":["192.0.2.3"]}`, "If-Match", created)
	require.Equal(t, http.StatusOK, status, body)
	assert.NotEqual(t, created, replaced)
	assert.Equal(t, replaced, getTag())
	status, body, tag = put(`{"endpoints":["192.0.2.4"]}`, "If-Match", created)
	assert.Equal(t, http.StatusPreconditionFailed, status)
	assert.JSONEq(t, failed(`service billing is at ETag `+replaced+` (If-Match: `+created+`)`), body)
	assert.Equal(t, replaced, tag)
	assert.Equal(t, []string{"192.0.2.3"}, f.addresses(t, "billing"))

	// Lists, *, weak tags (never a strong match), If-None-Match of a tag.
	// TAG stands for the current ETag.
	for _, c := range []struct {
		header, value string
		status        int
	}{
		{"If-Match", `"999999", TAG`, http.StatusOK},
		{"If-Match", "W/TAG", http.StatusPreconditionFailed},
		{"If-Match", "*", http.StatusOK},
		{"If-None-Match", "W/TAG", http.StatusPreconditionFailed},
		{"If-None-Match", `"999999"`, http.StatusOK},
	} {
		status, body, tag := put(`{"endpoints":["192.0.2.3"]}`, c.header, strings.ReplaceAll(c.value, "TAG", replaced))
		assert.Equal(t, c.status, status, "%s: %s: %s", c.header, c.value, body)
		if status == http.StatusOK {
			replaced = tag
		}
	}

	// A header that is no list of entity tags.
	for _, c := range []struct{ header, value, msg string }{
		{"If-Match", "5", `If-Match: want * or entity tags such as "5", got "5"`},
		{"If-Match", `"5`, `If-Match: an entity tag without its closing quote: "\"5"`},
		{"If-None-Match", `"5" "6"`, `If-None-Match: want a comma after entity tag "5"`},
	} {
		status, body, _ := put(`{"endpoints":["192.0.2.9"]}`, c.header, c.value)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.JSONEq(t, fmt.Sprintf(`{"error":%q,"field":%q}`, c.msg, c.header), body)
	}
	assert.Equal(t, []string{"192.0.2.3"}, f.addresses(t, "billing"))

	// An endpoint's change is a new revision; a heartbeat that changes
	// nothing is not.
	status, body, h := f.request(t, "PUT", svc+"/endpoints/192.0.2.7", `{"ttl":60}`, f.token)
	require.Equal(t, http.StatusCreated, status, body)
	withEndpoint := h.Get("ETag")
	assert.NotEqual(t, replaced, withEndpoint)
	assert.Equal(t, withEndpoint, getTag())
	status, body, h = f.request(t, "PUT", svc+"/endpoints/192.0.2.7", `{"ttl":60}`, f.token)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, withEndpoint, h.Get("ETag"))
	assert.Equal(t, withEndpoint, getTag())

	// DELETE with If-Match.
	status, body, h = f.request(t, "DELETE", svc, "", f.token, "If-Match", replaced)
	assert.Equal(t, http.StatusPreconditionFailed, status)
	assert.JSONEq(t, failed(`service billing is at ETag `+withEndpoint+` (If-Match: `+replaced+`)`), body)
	assert.Equal(t, withEndpoint, h.Get("ETag"))
	status, body, _ = f.request(t, "DELETE", svc, "", f.token, "If-Match", withEndpoint)
	assert.Equal(t, http.StatusNoContent, status, body)
	assert.Equal(t, "", body)
	status, body, _ = f.request(t, "DELETE", svc, "", f.token, "If-Match", withEndpoint)
	assert.Equal(t, http.StatusNotFound, status, "a service that does not exist is a 404, preconditions or not")
	assert.JSONEq(t, `{"error":"no service billing","field":"name"}`, body)

	// File services have no ETag, and any write to them is a 409.
	status, _, h = f.request(t, "GET", "/v1/services/oracle.finance", "", f.token)
	assert.Equal(t, http.StatusOK, status)
	assert.Empty(t, h.Values("ETag"))
	for _, method := range []string{"PUT", "DELETE"} {
		status, body, _ = f.request(t, method, "/v1/services/oracle.finance", `{"endpoints":["192.0.2.1"]}`, f.token, "If-Match", "*")
		assert.Equal(t, http.StatusConflict, status, method)
		assert.JSONEq(t, `{"error":"service oracle.finance is defined in the registry file; change it there","field":"name"}`, body)
	}
}

// TestAPIConcurrentIfMatch: of many writers that read the same revision
// and PUT with If-Match, exactly one wins; the others get 412.
func TestAPIConcurrentIfMatch(t *testing.T) {
	f := startAPIServer(t, "")
	status, body, h := f.request(t, "PUT", "/v1/services/race", `{"endpoints":["192.0.2.1"]}`, f.token)
	require.Equal(t, http.StatusCreated, status, body)
	tag := h.Get("ETag")

	const writers = 16
	statuses := make([]int, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			statuses[i], _, _ = f.request(t, "PUT", "/v1/services/race", `{"endpoints":["192.0.2.`+strconv.Itoa(10+i)+`"]}`, f.token, "If-Match", tag)
		})
	}
	wg.Wait()
	counts := map[int]int{}
	winner := -1
	for i, s := range statuses {
		counts[s]++
		if s == http.StatusOK {
			winner = i
		}
	}
	assert.Equal(t, map[int]int{http.StatusOK: 1, http.StatusPreconditionFailed: writers - 1}, counts)
	require.GreaterOrEqual(t, winner, 0)
	assert.Equal(t, []string{"192.0.2." + strconv.Itoa(10+winner)}, f.addresses(t, "race"))
	assert.False(t, strings.Contains(tag, "W/"))
}
