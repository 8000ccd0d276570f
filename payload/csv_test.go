package payload

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCSVGolden(t *testing.T) {
	export, _, _ := seed(t)
	got, err := renderCSV(export)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "seed001.csv", got)
}

// parseCSV parses doc strictly as RFC 4180 with CRLF line ends, and returns
// its header and rows as maps of column to cell.
func parseCSV(t *testing.T, doc []byte) (header []string, rows []map[string]string) {
	t.Helper()
	for i, c := range doc {
		if c == '\n' && (i == 0 || doc[i-1] != '\r') {
			t.Fatalf("bare LF at byte %d: lines must end with CRLF", i)
		}
	}
	if len(doc) > 0 && !bytes.HasSuffix(doc, []byte("\r\n")) {
		t.Error("the last line does not end with CRLF")
	}
	r := csv.NewReader(bytes.NewReader(doc))
	records, err := r.ReadAll() // also checks every row has the header's field count
	if err != nil {
		t.Fatalf("rendering is not valid CSV: %v\n%s", err, doc)
	}
	if len(records) == 0 {
		t.Fatal("no header row")
	}
	header = records[0]
	for _, rec := range records[1:] {
		row := make(map[string]string, len(rec))
		for i, v := range rec {
			row[header[i]] = v
		}
		rows = append(rows, row)
	}
	return header, rows
}

func TestCSVSeed(t *testing.T) {
	export, _, _ := seed(t)
	doc, err := renderCSV(export)
	if err != nil {
		t.Fatal(err)
	}
	header, rows := parseCSV(t, doc)

	var want struct {
		JobNumber json.Number
		JobRooms  []struct {
			RoomName    string
			JobCabinets []map[string]any
		}
	}
	if err := json.Unmarshal(export, &want); err != nil {
		t.Fatal(err)
	}
	var products []map[string]any
	for _, r := range want.JobRooms {
		products = append(products, r.JobCabinets...)
	}
	if len(rows) != len(products) || len(rows) != 3 {
		t.Fatalf("%d rows, want one per JobCabinets entry (%d)", len(rows), len(products))
	}
	for i, row := range rows {
		for _, c := range []struct{ col, want string }{
			{"export.JobNumber", "348167"},
			{"export.Manufacturer Name", "Example"},
			{"export.JobSundries", "[]"},
			{"room.RoomName", "Room 1"},
			{"room.RoomNumber", "1"},
			{"room.RawJobBenchtops", "[]"},
			{"RoomProductNo", products[i]["RoomProductNo"].(string)},
			{"Type", products[i]["Type"].(string)},
			{"Quantity", "1"},
		} {
			if got := row[c.col]; got != c.want {
				t.Errorf("row %d: %s = %q, want %q", i, c.col, got, c.want)
			}
		}
		// Every member of the product is in its row, and nothing else.
		for k, v := range products[i] {
			if row[k] != v.(string) {
				t.Errorf("row %d: %s = %q, want %q", i, k, row[k], v)
			}
		}
		for _, col := range header {
			if _, isProduct := products[i][col]; !isProduct && !strings.HasPrefix(col, "export.") && !strings.HasPrefix(col, "room.") && row[col] != "" {
				t.Errorf("row %d: %s = %q, want empty: the product has no such member", i, col, row[col])
			}
		}
	}
	if slices.Contains(header, "room.JobCabinets") || slices.Contains(header, "export.JobRooms") {
		t.Error("the row-carrying arrays are columns too")
	}
	// Product columns follow first-seen order: the second product adds
	// DrawerDetail after the first product's columns.
	if i, j := slices.Index(header, "DoorDwrProductName"), slices.Index(header, "DrawerDetail"); i < 0 || j != i+1 {
		t.Errorf("DrawerDetail at column %d, want right after the first product's last column (%d)", j, i)
	}
}

// TestCSVMapping pins the mapping the README documents.
func TestCSVMapping(t *testing.T) {
	for _, c := range []struct {
		name, export string
		want         []string // lines, without CRLF
	}{
		{"no rooms", `{"JobNumber": 1, "Name": "x"}`,
			[]string{"export.JobNumber,export.Name"}},
		{"null rooms", `{"JobNumber": 1, "JobRooms": null}`,
			[]string{"export.JobNumber"}},
		{"room without products", `{"JobRooms": [{"RoomName": "A", "JobCabinets": []}, {"RoomName": "B"}]}`,
			[]string{"room.RoomName"}},
		{"union of keys in first-seen order",
			`{"Job": 7, "JobRooms": [
				{"RoomName": "A", "JobCabinets": [{"p": 1, "q": 2}, {"r": 3, "p": 4}]},
				{"Extra": true, "RoomName": "B", "JobCabinets": [{"q": 5}]}]}`,
			[]string{
				"export.Job,room.RoomName,room.Extra,p,q,r",
				"7,A,,1,2,",
				"7,A,,4,,3",
				"7,B,true,,5,",
			}},
		{"nested objects flattened",
			`{"Address": {"Street": "1 Fake St", "Geo": {"Lat": -37.80}}, "JobRooms": [{"JobCabinets": [{"Hinge": {"Side": "L", "Empty": {}}}]}]}`,
			[]string{
				"export.Address.Street,export.Address.Geo.Lat,Hinge.Side",
				"1 Fake St,-37.80,L",
			}},
		{"arrays as compact JSON",
			`{"Sundries": [ {"Cost": 1.50, "Name": "Screw \u00e9"} ], "JobRooms": [{"JobCabinets": [{"Sizes": [ 1e3, 2 ]}]}]}`,
			[]string{
				"export.Sundries,Sizes",
				`"[{""Cost"":1.50,""Name"":""Screw \u00e9""}]","[1e3,2]"`,
			}},
		{"values", `{"JobRooms": [{"JobCabinets": [{"n": null, "t": true, "f": false, "num": 332.96, "s": "1"}]}]}`,
			[]string{"n,t,f,num,s", ",true,false,332.96,1"}},
		{"quoting", `{"JobRooms": [{"JobCabinets": [{"a": "x,y", "b": "say \"hi\"", "c": "two\nlines", "d": " lead", "e": "=1+1"}]}]}`,
			[]string{"a,b,c,d,e", `"x,y","say ""hi""","two` + "\r\n" + `lines"," lead",=1+1`}},
		{"key order of the export kept", `{"JobRooms": [{"JobCabinets": [{"z": 1, "a": 2}]}], "b": 3}`,
			[]string{"export.b,z,a", "3,1,2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := renderCSV([]byte(c.export))
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Join(c.want, "\r\n") + "\r\n"
			if diff := cmp.Diff(want, string(got)); diff != "" {
				t.Errorf("renderCSV(%s) (-want +got):\n%s", c.export, diff)
			}
			parseCSV(t, got)
		})
	}
}

func TestCSVRejects(t *testing.T) {
	for _, c := range []struct {
		name, export string
		want         error // nil: a *json.SyntaxError
	}{
		{"not an object", `[{}]`, ErrNotObject},
		{"rooms an object", `{"JobRooms": {"JobCabinets": []}}`, errNotArray},
		{"room a string", `{"JobRooms": ["Room 1"]}`, ErrNotObject},
		{"products an object", `{"JobRooms": [{"JobCabinets": {"a": 1}}]}`, errNotArray},
		{"product a number", `{"JobRooms": [{"JobCabinets": [{"a": 1}, 2]}]}`, ErrNotObject},
		{"truncated", `{"JobRooms": [{"JobCabinets": [{"a": 1}`, nil},
		{"trailing data", `{"a": 1} x`, nil},
		{"too deep", `{"a": ` + strings.Repeat(`{"b": `, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1) + `}`, errTooDeep},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := renderCSV([]byte(c.export))
			checkRenderError(t, err, c.want)
		})
	}
}
