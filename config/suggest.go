package config

import (
	"fmt"
	"strings"
)

// didYouMean returns ` (did you mean "x"?)` naming the candidate closest to
// name, or "" when none is close enough to be the intended spelling: a
// candidate name is the start of (a name cut short), or one within a few
// edits of it (a typo).
func didYouMean(name string, candidates []string) string {
	// Two edits, or a quarter of a long name, still read as a typo.
	best, bestDist := "", max(2, len(name)/4)+1
	for _, c := range candidates {
		d := editDistance(name, c)
		if len(name) >= 4 && strings.HasPrefix(c, name) {
			d = 1
		}
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes: keys
// and variable names are ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
