package plugin

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestServerAndZoneInContext(t *testing.T) {
	ctx := WithServer(context.Background(), "dns://127.0.0.1:53", "tp.internal.")
	assert.Equal(t, "dns://127.0.0.1:53", Server(ctx))
	assert.Equal(t, "tp.internal.", Zone(ctx))
	assert.Empty(t, Server(context.Background()))
	assert.Empty(t, Zone(context.Background()))
}
