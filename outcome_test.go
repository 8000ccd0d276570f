package callout

import (
	"strings"
	"testing"
)

// TestCustomerMessageOfBlockedDestination checks that a callout Callout's
// own address policy refused is not blamed on the manufacturer's system.
func TestCustomerMessageOfBlockedDestination(t *testing.T) {
	got := OutcomeDestinationBlocked.CustomerMessage()
	if strings.Contains(got, "refused the connection") || !strings.Contains(got, "does not allow connections") {
		t.Errorf("got %q, want a message saying this service does not allow the address", got)
	}
	if got == OutcomeAuthFailed.CustomerMessage() {
		t.Errorf("destination_blocked and auth_failed share the message %q", got)
	}
}
