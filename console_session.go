package callout

import "time"

// ConsoleSession is a signed-in session of the web console.
type ConsoleSession struct {
	// ManufacturerID is the manufacturer the session acts for; "" for a
	// platform operator's session over every manufacturer.
	ManufacturerID string
	ExpiresAt      time.Time
}
