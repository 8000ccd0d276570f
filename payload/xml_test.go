package payload

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestXMLGolden(t *testing.T) {
	export, _, _ := seed(t)
	got, err := renderXML(export)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "seed001.xml", got)
}

// xmlNode is a generic element, for reading renderings back.
type xmlNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []xmlNode  `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n *xmlNode) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (n *xmlNode) child(name string) *xmlNode {
	for i := range n.Nodes {
		if n.Nodes[i].XMLName.Local == name {
			return &n.Nodes[i]
		}
	}
	return nil
}

// parseXML parses doc strictly with encoding/xml, failing the test when it is
// not well-formed.
func parseXML(t *testing.T, doc []byte) *xmlNode {
	t.Helper()
	if !bytes.HasPrefix(doc, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n")) {
		t.Errorf("no XML declaration at the top: %.60q", doc)
	}
	var root xmlNode
	if err := xml.Unmarshal(doc, &root); err != nil {
		t.Fatalf("rendering is not well-formed XML: %v\n%s", err, doc)
	}
	// Unmarshal stops at the root's end: make sure nothing else follows.
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("rendering is not well-formed XML: %v", err)
		}
	}
	return &root
}

func TestXMLSeed(t *testing.T) {
	export, _, _ := seed(t)
	doc, err := renderXML(export)
	if err != nil {
		t.Fatal(err)
	}
	root := parseXML(t, doc)
	if root.XMLName.Local != "export" {
		t.Errorf("root element is %s, want export", root.XMLName.Local)
	}

	m := root.child("Manufacturer_Name")
	if m == nil {
		t.Fatal("no Manufacturer_Name element for the key \"Manufacturer Name\"")
	}
	if key, _ := m.attr("key"); key != "Manufacturer Name" || m.Text != "Example" {
		t.Errorf(`Manufacturer_Name has key %q and text %q, want "Manufacturer Name" and "Example"`, key, m.Text)
	}
	if _, ok := root.child("JobName").attr("key"); ok {
		t.Error("JobName, a valid name, carries a key attribute")
	}

	// Member order and values are those of the export.
	var names []string
	for _, n := range root.Nodes {
		names = append(names, n.XMLName.Local)
	}
	wantNames := "JobNumber JobName Status Description CustomerName Manufacturer_Name InvoiceTo OrderDate ExpectedDeliveryDate DispatchMethod ContactNumber CustomerId JobRooms JobSundries jobBenchtops"
	if got := strings.Join(names, " "); got != wantNames {
		t.Errorf("export's elements are\n%s\nwant\n%s", got, wantNames)
	}
	if got := root.child("JobNumber").Text; got != "348167" {
		t.Errorf("JobNumber = %q, want 348167", got)
	}

	rooms := root.child("JobRooms").Nodes
	if len(rooms) != 1 || rooms[0].XMLName.Local != "item" {
		t.Fatalf("JobRooms holds %d elements, want one <item>", len(rooms))
	}
	products := rooms[0].child("JobCabinets").Nodes
	if len(products) != 3 {
		t.Fatalf("JobCabinets holds %d items, want 3", len(products))
	}
	for i, want := range []string{"1-1.00", "1-2.00", "1-3.00"} {
		p := &products[i]
		if got := p.child("RoomProductNo").Text; got != want {
			t.Errorf("product %d RoomProductNo = %q, want %q", i, got, want)
		}
		if got := p.child("Quantity").Text; got != "1" {
			t.Errorf("product %d Quantity = %q, want 1", i, got)
		}
	}
}

// TestXMLMapping pins the mapping the README documents, value by value.
func TestXMLMapping(t *testing.T) {
	const decl = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	for _, c := range []struct {
		name, export, want string
	}{
		{"empty", `{}`, `<export/>`},
		{"numbers as written", `{"a": 332.96, "b": 1e3, "c": -0.50, "d": 12345678901234567890}`,
			"<export>\n  <a>332.96</a>\n  <b>1e3</b>\n  <c>-0.50</c>\n  <d>12345678901234567890</d>\n</export>"},
		{"booleans and null", `{"t": true, "f": false, "n": null}`,
			"<export>\n  <t>true</t>\n  <f>false</f>\n  <n nil=\"true\"/>\n</export>"},
		{"empties", `{"s": "", "o": {}, "a": []}`,
			"<export>\n  <s></s>\n  <o/>\n  <a/>\n</export>"},
		{"escaping", `{"s": "a<b & c>d \"q\" 'a'"}`,
			"<export>\n  <s>a&lt;b &amp; c&gt;d \"q\" 'a'</s>\n</export>"},
		{"line ends", `{"s": "a\r\nb\tc"}`,
			"<export>\n  <s>a&#xD;\nb\tc</s>\n</export>"},
		{"invalid characters", `{"s": "a\u0000b\u001bc\ufffe"}`,
			"<export>\n  <s>a\uFFFDb\uFFFDc\uFFFD</s>\n</export>"},
		{"unicode text", `{"s": "Größe 😀"}`,
			"<export>\n  <s>Größe 😀</s>\n</export>"},
		{"arrays", `{"a": [1, "x", null, {"k": 2}, [3]]}`,
			"<export>\n  <a>\n    <item>1</item>\n    <item>x</item>\n    <item nil=\"true\"/>\n    <item>\n      <k>2</k>\n    </item>\n    <item>\n      <item>3</item>\n    </item>\n  </a>\n</export>"},
		{"converted keys", `{"Manufacturer Name": 1, "1st": 2, "xmlns": 3, "a\"<b": 4, "": 5}`,
			"<export>\n  <Manufacturer_Name key=\"Manufacturer Name\">1</Manufacturer_Name>\n  <_1st key=\"1st\">2</_1st>\n  <_xmlns key=\"xmlns\">3</_xmlns>\n  <a__b key=\"a&quot;&lt;b\">4</a__b>\n  <_ key=\"\">5</_>\n</export>"},
		{"key with line break", `{"a\nb": 1}`,
			"<export>\n  <a_b key=\"a&#xA;b\">1</a_b>\n</export>"},
		{"member order kept", `{"z": 1, "a": 2, "z": 3}`,
			"<export>\n  <z>1</z>\n  <a>2</a>\n  <z>3</z>\n</export>"},
		{"spacing of the input", " {\n\t\"a\" :\n[ ]\n} \n",
			"<export>\n  <a/>\n</export>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := renderXML([]byte(c.export))
			if err != nil {
				t.Fatal(err)
			}
			if want := decl + c.want + "\n"; string(got) != want {
				t.Errorf("renderXML(%s) =\n%s\nwant\n%s", c.export, got, want)
			}
			parseXML(t, got)
		})
	}
}

// TestXMLTextRoundTrip checks that a parser reads back every string as it was
// in the export, carriage returns and markup characters included.
func TestXMLTextRoundTrip(t *testing.T) {
	in := "line 1\r\nline 2\n\ttab <tag attr=\"v\"> & ]]> ' end "
	doc, err := json.Marshal(map[string]string{"s": in, "k y": "v"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := renderXML(doc)
	if err != nil {
		t.Fatal(err)
	}
	root := parseXML(t, out)
	if got := root.child("s").Text; got != in {
		t.Errorf("text reads back as %q, want %q", got, in)
	}
}

func TestXMLName(t *testing.T) {
	for _, c := range []struct{ key, want string }{
		{"JobName", "JobName"},
		{"jobBenchtops", "jobBenchtops"},
		{"_x", "_x"},
		{"a-b.c_1", "a-b.c_1"},
		{"Manufacturer Name", "Manufacturer_Name"},
		{"1st", "_1st"},
		{"-x", "_-x"},
		{".x", "_.x"},
		{"xml", "_xml"},
		{"XmlData", "_XmlData"},
		{"xMLns", "_xMLns"},
		{"xm", "xm"},
		{"a:b", "a_b"},
		{"Größe", "Gr__e"},
		{" lead", "_lead"},
		{"xml space", "_xml_space"},
		{"", "_"},
		{"€", "_"},
	} {
		if got := xmlName(c.key); got != c.want {
			t.Errorf("xmlName(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}

func TestXMLRejects(t *testing.T) {
	deep := `{"a": ` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`
	for _, c := range []struct {
		name, export string
		want         error // nil: a *json.SyntaxError
	}{
		{"array", `[1]`, ErrNotObject},
		{"string", `"x"`, ErrNotObject},
		{"truncated", `{"a": [1, 2`, nil},
		{"trailing data", `{"a": 1} {"b": 2}`, nil},
		{"syntax", `{"a": tru}`, nil},
		{"trailing comma", `{"a": 1,}`, nil},
		{"empty", ``, nil},
		{"too deep", deep, errTooDeep},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := renderXML([]byte(c.export))
			checkRenderError(t, err, c.want)
		})
	}
}

// checkRenderError checks that err is want, or a *json.SyntaxError when want
// is nil.
func checkRenderError(t *testing.T, err, want error) {
	t.Helper()
	var syntax *json.SyntaxError
	switch {
	case err == nil:
		t.Error("rendering succeeded")
	case want == nil && !errors.As(err, &syntax):
		t.Errorf("error = %v, want a *json.SyntaxError", err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("error = %v, want %v", err, want)
	}
}

// TestXMLWellFormed renders pseudo-random exports with hostile keys and
// strings, and parses each back.
func TestXMLWellFormed(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"a", "Z", "0", " ", "-", ".", ":", "<", ">", "&", "\"", "'", "\x00", "\x01", "\t", "\n", "\r", "]]>", "xml", "é", "€", "😀", "\ufffe", "\u2028", "--"}
	str := func() string {
		var b strings.Builder
		for range r.IntN(6) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		return b.String()
	}
	var value func(depth int) any
	value = func(depth int) any {
		switch k := r.IntN(8); {
		case k == 0 && depth < 5:
			m := map[string]any{}
			for range r.IntN(4) {
				m[str()] = value(depth + 1)
			}
			return m
		case k == 1 && depth < 5:
			a := []any{}
			for range r.IntN(4) {
				a = append(a, value(depth+1))
			}
			return a
		case k == 2:
			return nil
		case k == 3:
			return r.IntN(2) == 0
		case k == 4:
			return r.NormFloat64() * 1000
		default:
			return str()
		}
	}
	for i := range 200 {
		m := map[string]any{}
		for range 1 + r.IntN(5) {
			m[str()] = value(0)
		}
		doc, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			out, err := renderXML(doc)
			if err != nil {
				t.Fatalf("renderXML(%s): %v", doc, err)
			}
			parseXML(t, out)
		})
	}
}
