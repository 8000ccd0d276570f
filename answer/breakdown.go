package answer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/callout/callout"
)

// Limits of a pricing breakdown tree (docs/manufacturers.md, "Answering a pricing").
const (
	// MaxBreakdownDepth is how many levels of nodes are kept; the items of a
	// node at this level are dropped.
	MaxBreakdownDepth = 16
	// MaxBreakdownNodes is how many nodes are kept in all, the first in
	// document order.
	MaxBreakdownNodes = 1000
)

// breakdownReader normalises a breakdown tree, counting what it drops so that
// each kind of drop yields one warning, not one per node.
type breakdownReader struct {
	nodes      int // nodes kept so far
	invalid    int // not an object, or no non-empty string name
	tooDeep    int // items of a node at MaxBreakdownDepth
	tooMany    int // nodes after the first MaxBreakdownNodes
	badCost    int // nodes whose cost was unusable (the node is kept)
	badItems   int // items members that were neither an array nor an object
	longNames  int // names shortened to callout.MaxMessageLength
	notAnArray string
}

// breakdown normalises the "breakdown" member of a pricing answer. It never
// returns nil: no breakdown is an empty one.
func breakdown(raw json.RawMessage) ([]callout.BreakdownNode, []string) {
	var r breakdownReader
	raw = bytes.TrimSpace(raw)
	nodes := []callout.BreakdownNode{}
	if len(raw) > 0 && raw[0] != 'n' {
		if raw[0] == '[' || raw[0] == '{' {
			nodes = r.list(raw, 1)
		} else {
			r.notAnArray = kindOf(raw)
		}
	}
	return nodes, r.warnings()
}

// list normalises an array of nodes at the given level; a single object is
// read as a one-node array.
func (r *breakdownReader) list(raw json.RawMessage, level int) []callout.BreakdownNode {
	var elems []json.RawMessage
	if raw[0] == '{' {
		elems = []json.RawMessage{raw}
	} else if json.Unmarshal(raw, &elems) != nil {
		r.invalid++
		return []callout.BreakdownNode{}
	}
	out := make([]callout.BreakdownNode, 0, min(len(elems), MaxBreakdownNodes-r.nodes))
	for _, e := range elems {
		if r.nodes >= MaxBreakdownNodes {
			r.tooMany++
			continue
		}
		if n, ok := r.node(e, level); ok {
			out = append(out, n)
		}
	}
	return out
}

// node normalises one node at the given level, and reports false when it is
// dropped.
func (r *breakdownReader) node(raw json.RawMessage, level int) (callout.BreakdownNode, bool) {
	raw = bytes.TrimSpace(raw)
	// Members are looked up by their exact names: encoding/json would also
	// match "Name" or "NAME" to a struct field.
	var m map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		r.invalid++
		return callout.BreakdownNode{}, false
	}
	var name string
	if nameRaw := bytes.TrimSpace(m["name"]); len(nameRaw) == 0 || nameRaw[0] != '"' || json.Unmarshal(nameRaw, &name) != nil || name == "" {
		r.invalid++
		return callout.BreakdownNode{}, false
	}
	if utf8.RuneCountInString(name) > callout.MaxMessageLength {
		name = cutRunes(name, callout.MaxMessageLength)
		r.longNames++
	}
	r.nodes++
	n := callout.BreakdownNode{Name: name, Items: []callout.BreakdownNode{}}
	// An unusable cost, 1e400 beyond a float64's range among them, is
	// dropped and the node kept with a warning: its name still tells the
	// customer something, and the answer's own cost is the price.
	if c, ok := m["cost"]; ok && string(bytes.TrimSpace(c)) != "null" {
		if cost, ok := ParseCost(c); ok {
			n.Cost = cost
		} else {
			r.badCost++
		}
	}
	if c, ok := m["collapse"]; ok {
		n.Collapse = truthy(c)
	}
	items := bytes.TrimSpace(m["items"])
	switch {
	case len(items) == 0 || items[0] == 'n':
	case items[0] != '[' && items[0] != '{':
		r.badItems++
	case level >= MaxBreakdownDepth:
		r.tooDeep += countNodes(items)
	default:
		n.Items = r.list(items, level+1)
	}
	return n, true
}

// countNodes is how many nodes an items member holds at its own level.
func countNodes(items json.RawMessage) int {
	if items[0] == '{' {
		return 1
	}
	var elems []json.RawMessage
	if json.Unmarshal(items, &elems) != nil {
		return 0
	}
	return len(elems)
}

// warnings is one warning per kind of drop, with its count.
func (r *breakdownReader) warnings() []string {
	var w []string
	add := func(n int, format string) {
		if n > 0 {
			w = append(w, fmt.Sprintf(format, n, plural(n, "node", "nodes")))
		}
	}
	if r.notAnArray != "" {
		w = append(w, fmt.Sprintf("breakdown is %s, not an array or an object; ignored", r.notAnArray))
	}
	add(r.invalid, "breakdown: %d %s dropped: not an object with a non-empty string name")
	add(r.tooDeep, "breakdown: %d %s dropped, with their items: nested deeper than "+fmt.Sprint(MaxBreakdownDepth)+" levels")
	add(r.tooMany, "breakdown: %d %s dropped, with their items: more than "+fmt.Sprint(MaxBreakdownNodes)+" nodes in all")
	add(r.badCost, "breakdown: %d %s kept without their unusable cost")
	add(r.badItems, "breakdown: %d %s kept without their items, which were neither an array nor an object")
	add(r.longNames, "breakdown: %d %s with a name longer than "+fmt.Sprint(callout.MaxMessageLength)+" characters shortened")
	return w
}
