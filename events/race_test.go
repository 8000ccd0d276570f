//go:build race

package events

// raceDetector slows SQLite (pure Go) by an order of magnitude: timing
// bounds of the tests allow for it.
const raceDetector = true
