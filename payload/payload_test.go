package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/callout/callout"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// seed returns the documents of seed 001's example payload, from the
// repository's testdata.
func seed(t testing.TB) (export, job, customer []byte) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "seed001", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return read("export.json"), read("job.json"), read("customer.json")
}

// golden compares got with the golden file testdata/name, rewriting it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; run go test -update if the change is intended):\n%s", path, diff)
	}
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSampleIsSeed(t *testing.T) {
	export, job, customer := seed(t)
	e, j, c := Sample()
	for _, d := range []struct {
		name      string
		got, want []byte
	}{{"export", e, export}, {"job", j, job}, {"customer", c, customer}} {
		if !bytes.Equal(d.got, d.want) {
			t.Errorf("payload/sample/%s.json differs from testdata/seed001/%[1]s.json: copy the seed over the sample", d.name)
		}
		if !json.Valid(d.got) {
			t.Errorf("sample %s is not valid JSON", d.name)
		}
	}

	// The copies are the caller's own.
	e[0], j[0], c[0] = 'x', 'x', 'x'
	e2, j2, c2 := Sample()
	if !bytes.Equal(e2, export) || !bytes.Equal(j2, job) || !bytes.Equal(c2, customer) {
		t.Error("modifying what Sample returned changed the next call's documents")
	}
}

// TestSeedKeepsLiterals guards the seed documents themselves: only the
// trailing commas of the contract's example were removed.
func TestSeedKeepsLiterals(t *testing.T) {
	export, job, customer := seed(t)
	for _, c := range []struct {
		doc  string
		text []byte
		want []string
	}{
		{"export", export, []string{`"JobNumber": 348167,`, `"Manufacturer Name": "Example",`, `"Quantity": "1",`, `"DrawerDetail": "298.66;298.66;298.66;",`, `"jobBenchtops": []` + "\n  }"}},
		{"job", job, []string{`"cost": 332.96,`, `"dateSubmitted": "0000-00-00T00:00:00+00:00",`, `"roomCount": "1",`, `"productCount": 3` + "\n  }"}},
		{"customer", customer, []string{`"manufacturer_id": 103,`, `"is_beta": true,`, `"customer_labels": [],`}},
	} {
		for _, w := range c.want {
			if !bytes.Contains(c.text, []byte(w)) {
				t.Errorf("%s document does not contain %q", c.doc, w)
			}
		}
		if !bytes.HasPrefix(c.text, []byte("{\n")) || !bytes.HasSuffix(c.text, []byte("\n  }")) {
			t.Errorf("%s document does not start and end as in the seed", c.doc)
		}
	}
}

// TestBuildJSONGolden is the golden test of docs/manufacturers.md's promise: the example job of seed 001
// goes out byte for byte as the documents came in.
func TestBuildJSONGolden(t *testing.T) {
	export, job, customer := seed(t)
	body, err := Build(callout.ExportJSON, export, job, customer)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte(`{"export":` + string(export) + `,"job":` + string(job) + `,"customer":` + string(customer) + `}`)
	got := readAll(t, body.Reader())
	if !bytes.Equal(got, want) {
		t.Fatalf("body differs from the documents as given:\n%s", cmp.Diff(string(want), string(got)))
	}
	if body.Len() != int64(len(want)) {
		t.Errorf("Len() = %d, want %d", body.Len(), len(want))
	}
	for _, lit := range []string{`"cost": 332.96`, `"Quantity": "1"`, `"dateSubmitted": "0000-00-00T00:00:00+00:00"`, `"Manufacturer Name": "Example"`} {
		if !bytes.Contains(got, []byte(lit)) {
			t.Errorf("body lost %s", lit)
		}
	}

	var members struct{ Export, Job, Customer json.RawMessage }
	if err := json.Unmarshal(got, &members); err != nil {
		t.Fatalf("body is not valid JSON: %v", err)
	}
	if !bytes.Equal(members.Export, export) || !bytes.Equal(members.Job, job) || !bytes.Equal(members.Customer, customer) {
		t.Error("a member of the decoded body differs from its document")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(got, &top); err != nil || len(top) != 3 {
		t.Errorf("body has %d members (err %v), want exactly export, job, customer", len(top), err)
	}
}

func TestBodyReading(t *testing.T) {
	export, job, customer := seed(t)
	body, err := Build(callout.ExportJSON, export, job, customer)
	if err != nil {
		t.Fatal(err)
	}
	want := readAll(t, body.Reader())

	t.Run("reader twice", func(t *testing.T) {
		if got := readAll(t, body.Reader()); !bytes.Equal(got, want) {
			t.Error("a second Reader gave different bytes")
		}
	})
	t.Run("reader contract", func(t *testing.T) {
		// Small reads, io.EOF, and WriteTo through io.Copy.
		if err := iotest.TestReader(body.Reader(), want); err != nil {
			t.Error(err)
		}
		if got := readAll(t, iotest.OneByteReader(body.Reader())); !bytes.Equal(got, want) {
			t.Error("reading one byte at a time gave different bytes")
		}
		var buf bytes.Buffer
		n, err := io.Copy(&buf, body.Reader())
		if err != nil || n != int64(len(want)) || !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("io.Copy of Reader = %d bytes, %v; want %d bytes, the same body", n, err, len(want))
		}
	})
	t.Run("WriteTo", func(t *testing.T) {
		var buf bytes.Buffer
		n, err := body.WriteTo(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if n != body.Len() || !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("WriteTo wrote %d bytes, want %d, the bytes of Reader", n, body.Len())
		}
	})
	t.Run("WriteTo error", func(t *testing.T) {
		w := &failingWriter{room: 15}
		n, err := body.WriteTo(w)
		if !errors.Is(err, errWriterFull) {
			t.Errorf("WriteTo error = %v, want errWriterFull", err)
		}
		if n != 15 {
			t.Errorf("WriteTo reported %d bytes, want the 15 written", n)
		}
	})
	t.Run("concurrent readers", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				var buf bytes.Buffer
				if _, err := io.Copy(&buf, body.Reader()); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(buf.Bytes(), want) {
					errs <- errors.New("a concurrent reader got different bytes")
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

var errWriterFull = errors.New("writer full")

// failingWriter accepts room bytes, then fails.
type failingWriter struct{ room int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= w.room {
		w.room -= len(p)
		return len(p), nil
	}
	n := w.room
	w.room = 0
	return n, errWriterFull
}

func TestBuildCustomer(t *testing.T) {
	export, job, _ := seed(t)
	for _, c := range []struct {
		name     string
		customer json.RawMessage
		want     string
	}{
		{"nil", nil, "null"},
		{"empty", json.RawMessage{}, "null"},
		{"spaces", json.RawMessage(" \n"), "null"},
		{"null", json.RawMessage("null"), "null"},
		{"object", json.RawMessage(`{"id": 1}`), `{"id": 1}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, err := Build(callout.ExportJSON, export, job, c.customer)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, body.Reader())
			if !json.Valid(got) {
				t.Fatal("body is not valid JSON")
			}
			if want := `,"customer":` + c.want + `}`; !bytes.HasSuffix(got, []byte(want)) {
				t.Errorf("body ends %q, want %q", got[max(0, len(got)-40):], want)
			}
		})
	}
}

func TestBuildRejects(t *testing.T) {
	export, job, customer := seed(t)
	for _, c := range []struct {
		name                  string
		format                callout.ExportFormat
		export, job, customer string
		want                  error
	}{
		{"export array", callout.ExportJSON, `[]`, string(job), "", ErrNotObject},
		{"export string", callout.ExportJSON, `"{}"`, string(job), "", ErrNotObject},
		{"export empty", callout.ExportJSON, ``, string(job), "", ErrNotObject},
		{"export truncated", callout.ExportJSON, `{"a": 1`, string(job), "", ErrNotObject},
		{"job null", callout.ExportJSON, string(export), `null`, "", ErrNotObject},
		{"job missing", callout.ExportJSON, string(export), ``, "", ErrNotObject},
		{"customer array", callout.ExportJSON, string(export), string(job), `[{}]`, ErrNotObject},
		{"customer number", callout.ExportJSON, string(export), string(job), `27465`, ErrNotObject},
		{"export array as xml", callout.ExportXML, `[]`, string(job), "", ErrNotObject},
		{"unknown format", "yaml", string(export), string(job), string(customer), ErrUnknownFormat},
		{"format in other case", "JSON", string(export), string(job), string(customer), ErrUnknownFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, err := Build(c.format, json.RawMessage(c.export), json.RawMessage(c.job), json.RawMessage(c.customer))
			if !errors.Is(err, c.want) {
				t.Errorf("Build error = %v, want %v", err, c.want)
			}
			if body != nil {
				t.Error("Build returned a body with its error")
			}
		})
	}
}

func TestBuildEmptyFormatIsJSON(t *testing.T) {
	export, job, customer := seed(t)
	a, err := Build("", export, job, customer)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(callout.ExportJSON, export, job, customer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, a.Reader()), readAll(t, b.Reader())) {
		t.Error("the empty format does not build the json body")
	}
}

// TestBuildRendered checks the envelope of the xml and csv formats: valid
// JSON whose export member is a string holding the rendering, with the job and
// customer still byte for byte.
func TestBuildRendered(t *testing.T) {
	export, job, customer := seed(t)
	for _, c := range []struct {
		format callout.ExportFormat
		render func([]byte) ([]byte, error)
		marker string // raw text that must appear unescaped in the body
	}{
		{callout.ExportXML, renderXML, `<Manufacturer_Name key=\"Manufacturer Name\">Example</Manufacturer_Name>`},
		{callout.ExportCSV, renderCSV, `export.JobNumber,export.JobName`},
	} {
		t.Run(string(c.format), func(t *testing.T) {
			body, err := Build(c.format, export, job, customer)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, body.Reader())
			if body.Len() != int64(len(got)) {
				t.Errorf("Len() = %d, want %d", body.Len(), len(got))
			}
			var members struct {
				Export        any
				Job, Customer json.RawMessage
			}
			if err := json.Unmarshal(got, &members); err != nil {
				t.Fatalf("body is not valid JSON: %v", err)
			}
			s, ok := members.Export.(string)
			if !ok {
				t.Fatalf("export member is %T, want a string", members.Export)
			}
			want, err := c.render(export)
			if err != nil {
				t.Fatal(err)
			}
			if s != string(want) {
				t.Errorf("export string differs from the rendering:\n%s", cmp.Diff(string(want), s))
			}
			if !bytes.Equal(members.Job, job) || !bytes.Equal(members.Customer, customer) {
				t.Error("job or customer differs from its document")
			}
			if !bytes.Contains(got, []byte(c.marker)) {
				t.Errorf("body does not contain %s: < > & must not be escaped as \\u003c…", c.marker)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"plain", "abc", `"abc"`},
		{"empty", "", `""`},
		{"markup kept", `<a href="x">&</a>`, `"<a href=\"x\">&</a>"`},
		{"line ends", "a\r\nb\tc", `"a\r\nb\tc"`},
		{"control", "\x00\x1f", `"\u0000\u001f"`},
		{"backslash", `C:\x`, `"C:\\x"`},
		{"unicode", "Größe €", `"Größe €"`},
		{"line separators", "a\u2028b\u2029", `"a\u2028b\u2029"`},
		{"invalid UTF-8", "a\xffb\xc3", `"a\ufffdb\ufffd"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := appendJSONString(nil, []byte(c.in))
			if string(got) != c.want {
				t.Errorf("appendJSONString(%q) = %s, want %s", c.in, got, c.want)
			}
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("not a JSON string: %v", err)
			}
			if want := strings.ToValidUTF8(c.in, "\uFFFD"); c.name != "invalid UTF-8" && back != want {
				t.Errorf("decodes to %q, want %q", back, want)
			}
		})
	}
}

// TestBuildJSONDoesNotCopy checks that building a json body allocates the same
// whatever the size of the documents: they are referenced, never copied.
func TestBuildJSONDoesNotCopy(t *testing.T) {
	_, job, customer := seed(t)
	allocs := func(export []byte) float64 {
		return testing.AllocsPerRun(20, func() {
			if _, err := Build(callout.ExportJSON, export, job, customer); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(bigExport(t, 1<<10)), allocs(bigExport(t, 4<<20))
	if large != small {
		t.Errorf("Build allocates %v times for a 4 MiB export, %v for 1 KiB: it copies the document", large, small)
	}
	if small > 4 {
		t.Errorf("Build allocates %v times, want at most 4 (the body and its parts)", small)
	}
}

// bigExport returns a valid export of at least size bytes, shaped like the
// seed's: rooms of products.
func bigExport(t testing.TB, size int) []byte {
	t.Helper()
	export, _, _ := seed(t)
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(export))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	room := doc["JobRooms"].([]any)[0].(map[string]any)
	product, err := json.Marshal(room["JobCabinets"].([]any)[0])
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(`{"JobNumber": 348167, "Manufacturer Name": "Example", "JobRooms": [`)
	for r := 0; b.Len() < size; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"RoomNumber": %d, "RoomName": "Room %[1]d", "JobCabinets": [`, r+1)
		for p := range 50 {
			if p > 0 {
				b.WriteByte(',')
			}
			b.Write(product)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`], "JobSundries": []}`)
	if !json.Valid(b.Bytes()) {
		t.Fatal("bigExport made invalid JSON")
	}
	return b.Bytes()
}

// BenchmarkBuildJSON builds the body of a json webhook and reads it out. Its
// allocations per operation are the same for 64 KiB and 4 MiB exports.
func BenchmarkBuildJSON(b *testing.B) {
	_, job, customer := seed(b)
	for _, size := range []int{64 << 10, 4 << 20} {
		export := bigExport(b, size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(export)))
			for b.Loop() {
				body, err := Build(callout.ExportJSON, export, job, customer)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := body.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBuildXML and BenchmarkBuildCSV measure the renderings, which parse
// the whole export.
func BenchmarkBuildXML(b *testing.B) { benchmarkRendered(b, callout.ExportXML) }

// BenchmarkBuildCSV: see BenchmarkBuildXML.
func BenchmarkBuildCSV(b *testing.B) { benchmarkRendered(b, callout.ExportCSV) }

func benchmarkRendered(b *testing.B, format callout.ExportFormat) {
	_, job, customer := seed(b)
	export := bigExport(b, 1<<20)
	b.ReportAllocs()
	b.SetBytes(int64(len(export)))
	for b.Loop() {
		if _, err := Build(format, export, job, customer); err != nil {
			b.Fatal(err)
		}
	}
}
