package answer

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/callout/callout"
)

const (
	sub   = callout.KindSubmission
	price = callout.KindPricing
)

// The answers of seed 001, as printed there (with its trailing commas).
const (
	seedError = `{
    "success": false,
    "errors": [
        "No Widgets",
        "User Blocked",
    ]
}`
	seedSubmission = `{
    "success": true,
    "message": "Order #123456",
    "id": "JPS-990495"
}`
	seedPricing = `{
    "success": true,
    "cost": 1234.56,
    "message": "10% first order discount applied",
    "breakdown": [
        {
            "name": "Discounts",
            "items": [
                {
                    "cost": 123.46,
                    "name": "10% First Order Discount"
                }
            ]
        }, {
            "cost": 101.01,
            "name": "Tax",
        }
    ]
}`
)

// leaf is a normalised breakdown node without items.
func leaf(name string, cost json.Number) callout.BreakdownNode {
	return callout.BreakdownNode{Name: name, Cost: cost, Items: []callout.BreakdownNode{}}
}

func TestRead(t *testing.T) {
	tests := []struct {
		name   string
		kind   callout.Kind
		status int
		body   string
		want   Answer
	}{
		// auth_failed: 401 and 403 whatever the body.
		{"401 junk", sub, 401, "<html>", Answer{Outcome: callout.OutcomeAuthFailed, Detail: "the webhook refused Callout's credentials"}},
		{"403 success", sub, 403, `{"success":true,"cost":1}`, Answer{Outcome: callout.OutcomeAuthFailed, Detail: "the webhook refused Callout's credentials"}},
		{"401 errors kept", price, 401, `{"errors":"bad token"}`, Answer{Outcome: callout.OutcomeAuthFailed, Errors: []string{"bad token"}, Detail: "the webhook refused Callout's credentials"}},

		// 200: accepted.
		{"empty body", sub, 200, "", Answer{Outcome: callout.OutcomeAccepted}},
		{"whitespace body", sub, 200, " \r\n\t ", Answer{Outcome: callout.OutcomeAccepted}},
		{"bom only", sub, 200, "\xEF\xBB\xBF", Answer{Outcome: callout.OutcomeAccepted, Warnings: []string{warnBOM}}},
		{"empty object", sub, 200, `{}`, Answer{Outcome: callout.OutcomeAccepted}},
		{"success true", sub, 200, `{"success":true}`, Answer{Outcome: callout.OutcomeAccepted}},
		{"seed submission", sub, 200, seedSubmission, Answer{Outcome: callout.OutcomeAccepted, Messages: []string{"Order #123456"}, ExternalID: "JPS-990495"}},
		{"minimal pricing", price, 200, `{"cost": 1234.56}`, Answer{Outcome: callout.OutcomeAccepted, Cost: "1234.56", Breakdown: []callout.BreakdownNode{}}},
		{"seed pricing", price, 200, seedPricing, Answer{
			Outcome:  callout.OutcomeAccepted,
			Cost:     "1234.56",
			Messages: []string{"10% first order discount applied"},
			Breakdown: []callout.BreakdownNode{
				{Name: "Discounts", Items: []callout.BreakdownNode{leaf("10% First Order Discount", "123.46")}},
				leaf("Tax", "101.01"),
			},
			Warnings: []string{warnTrailingCommas},
		}},
		{"pricing ignores id", price, 200, `{"cost":1,"id":"X"}`, Answer{Outcome: callout.OutcomeAccepted, Cost: "1", Breakdown: []callout.BreakdownNode{}}},
		{"submission ignores cost", sub, 200, `{"cost":"abc","breakdown":[{"name":"x"}]}`, Answer{Outcome: callout.OutcomeAccepted}},

		// 200: rejected.
		{"success false", sub, 200, `{"success":false}`, Answer{Outcome: callout.OutcomeRejected}},
		{"seed error", sub, 200, seedError, Answer{Outcome: callout.OutcomeRejected, Errors: []string{"No Widgets", "User Blocked"}, Warnings: []string{warnTrailingCommas}}},
		{"rejected keeps messages", sub, 200, `{"success":0,"errors":"No","message":"call us","id":"X"}`, Answer{Outcome: callout.OutcomeRejected, Errors: []string{"No"}, Messages: []string{"call us"}}},
		{"pricing rejected needs no cost", price, 200, `{"success":"false","errors":["Out of stock"]}`, Answer{Outcome: callout.OutcomeRejected, Errors: []string{"Out of stock"}}},
		{"success null", price, 200, `{"success":null,"cost":1}`, Answer{Outcome: callout.OutcomeRejected}},

		// 200: bad_response.
		{"array", sub, 200, `[]`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the answer is not a JSON object: a JSON array"}},
		{"string", sub, 200, `"ok"`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the answer is not a JSON object: a JSON string"}},
		{"number", sub, 200, `1`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the answer is not a JSON object: a JSON number"}},
		{"boolean", sub, 200, `true`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the answer is not a JSON object: a JSON boolean"}},
		{"null", sub, 200, `null`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the answer is not a JSON object: null"}},
		{"html", sub, 200, "<html>", Answer{Outcome: callout.OutcomeBadResponse, Detail: "the answer is not JSON: invalid character '<' looking for beginning of value (at byte 1)"}},
		{"truncated", sub, 200, `{"success":`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the answer is not JSON: it ends before the JSON value is complete"}},
		{"trailing data", sub, 200, `{"a":1} x`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the answer is not JSON: unexpected data after the JSON value (at byte 9)"}},
		{"two objects", sub, 200, `{} {}`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the answer is not JSON: unexpected data after the JSON value (at byte 4)"}},
		{"single quotes", sub, 200, `{'a':1}`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the answer is not JSON: invalid character '\\'' looking for beginning of object key string (at byte 2)"}},
		{"NaN", price, 200, `{"cost":NaN}`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the answer is not JSON: invalid character 'N' looking for beginning of value (at byte 9)"}},
		{"pricing no cost", price, 200, `{"success":true}`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the pricing answer has no usable cost: it has no cost member"}},
		{"pricing empty body", price, 200, ``, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the pricing answer has no usable cost: it has no cost member"}},
		{"pricing cost text", price, 200, `{"cost":"abc","message":"hi"}`, Answer{Outcome: callout.OutcomeBadResponse, Messages: []string{"hi"}, Detail: "the pricing answer has no usable cost: cost is a JSON string that does not hold a decimal number"}},
		{"pricing cost null", price, 200, `{"cost":null}`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the pricing answer has no usable cost: cost is null"}},
		{"pricing cost true", price, 200, `{"cost":true}`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the pricing answer has no usable cost: cost is a JSON boolean"}},
		{"pricing cost object", price, 200, `{"cost":{"total":1}}`, Answer{Outcome: callout.OutcomeBadResponse, Detail: "the pricing answer has no usable cost: cost is a JSON object"}},

		// Other statuses: rejected with an errors member, webhook_error otherwise.
		{"500 errors", sub, 500, `{"errors":["Down for maintenance"]}`, Answer{Outcome: callout.OutcomeRejected, Errors: []string{"Down for maintenance"}}},
		{"422 success ignored", sub, 422, `{"success":true,"errors":"No widgets"}`, Answer{Outcome: callout.OutcomeRejected, Errors: []string{"No widgets"}}},
		{"400 empty errors", sub, 400, `{"errors":[]}`, Answer{Outcome: callout.OutcomeRejected}},
		{"429 null errors", price, 429, `{"errors":null}`, Answer{Outcome: callout.OutcomeRejected}},
		{"404 seed error", sub, 404, seedError, Answer{Outcome: callout.OutcomeRejected, Errors: []string{"No Widgets", "User Blocked"}, Warnings: []string{warnTrailingCommas}}},
		{"500 success", sub, 500, `{"success":true,"message":"ok"}`, Answer{Outcome: callout.OutcomeWebhookError, Messages: []string{"ok"}, Detail: "the body is not a JSON object with an errors member: it has no errors member"}},
		{"201 accepted-looking", price, 201, `{"cost":1}`, Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: it has no errors member"}},
		{"204 empty", sub, 204, ``, Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: the body is empty"}},
		{"302 empty", sub, 302, "\r\n", Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: the body is empty"}},
		{"502 html", sub, 502, "<html>Bad gateway</html>", Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: the answer is not JSON: invalid character '<' looking for beginning of value (at byte 1)"}},
		{"500 array", sub, 500, `["errors"]`, Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: the answer is not a JSON object: a JSON array"}},
		{"500 nested errors", sub, 500, `{"error":{"errors":["x"]}}`, Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: it has no errors member"}},
		{"500 Errors capitalised", sub, 500, `{"Errors":["x"]}`, Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: it has no errors member"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Read(tt.kind, tt.status, []byte(tt.body))
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Read(%s, %d, %q) mismatch (-want +got):\n%s", tt.kind, tt.status, tt.body, diff)
			}
		})
	}
}

// TestReadBreakdownNeverNil checks what cmpopts.EquateEmpty hides above: an
// accepted pricing carries an empty, not a nil, breakdown, and every node
// non-nil items.
func TestReadBreakdownNeverNil(t *testing.T) {
	for _, body := range []string{`{"cost":1}`, `{"cost":1,"breakdown":null}`, `{"cost":1,"breakdown":[]}`, `{"cost":1,"breakdown":7}`, `{"cost":1,"breakdown":[{"name":"a","items":null}]}`} {
		got := Read(price, 200, []byte(body))
		if got.Outcome != callout.OutcomeAccepted {
			t.Fatalf("Read(%q).Outcome = %s, want accepted", body, got.Outcome)
		}
		if got.Breakdown == nil {
			t.Errorf("Read(%q).Breakdown is nil, want an empty slice", body)
		}
		for _, n := range got.Breakdown {
			if n.Items == nil {
				t.Errorf("Read(%q): node %q has nil Items, want an empty slice", body, n.Name)
			}
		}
		b, err := json.Marshal(got.Breakdown)
		if err != nil {
			t.Fatalf("marshalling the breakdown of %q: %v", body, err)
		}
		if s := string(b); s == "null" || strings.Contains(s, `"items":null`) {
			t.Errorf("Read(%q).Breakdown marshals to %s, want no null", body, s)
		}
	}
}

func TestTruthiness(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{`false`, false},
		{`null`, false},
		{`0`, false},
		{`-0`, false},
		{`0.0`, false},
		{`-0.000`, false},
		{`0e5`, false},
		{`0E-3`, false},
		{`0.0e+10`, false},
		{`""`, false},
		{`"0"`, false},
		{`"false"`, false},
		{`"FALSE"`, false},
		{`"False"`, false},
		{`[]`, false},
		{`[ ]`, false},
		{`{}`, false},
		{"{\n}", false},

		{`true`, true},
		{`1`, true},
		{`-1`, true},
		{`0.1`, true},
		{`1e-400`, true}, // not zero, however small
		{`"1"`, true},
		{`"0.0"`, true}, // PHP: only "" and "0" are falsy strings
		{`" 0"`, true},
		{`"no"`, true},
		{`"true"`, true},
		{`"null"`, true},
		{`" "`, true},
		{`"f"`, true},
		{`[0]`, true},
		{`[false]`, true},
		{`{"a":false}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			wantOutcome := callout.OutcomeRejected
			if tt.want {
				wantOutcome = callout.OutcomeAccepted
			}
			body := fmt.Sprintf(`{"success": %s}`, tt.value)
			if got := Read(sub, 200, []byte(body)).Outcome; got != wantOutcome {
				t.Errorf("Read(%s).Outcome = %s, want %s", body, got, wantOutcome)
			}

			// The same rule reads a breakdown node's collapse.
			body = fmt.Sprintf(`{"cost":1,"breakdown":[{"name":"n","collapse": %s}]}`, tt.value)
			a := Read(price, 200, []byte(body))
			if len(a.Breakdown) != 1 {
				t.Fatalf("Read(%s).Breakdown = %+v, want one node", body, a.Breakdown)
			}
			if got := a.Breakdown[0].Collapse; got != tt.want {
				t.Errorf("Read(%s): collapse = %v, want %v", body, got, tt.want)
			}
		})
	}
}

func TestReadTexts(t *testing.T) {
	long := strings.Repeat("x", 2500)
	multi := strings.Repeat("é", 1999) + "日本" // 2001 runes, multi-byte at the cut
	var fifty, fiftyOne []string
	for i := range 51 {
		fiftyOne = append(fiftyOne, fmt.Sprintf("error %d", i+1))
	}
	fifty = fiftyOne[:50]
	fiftyOneJSON, _ := json.Marshal(fiftyOne)

	tests := []struct {
		name         string
		member       string // the JSON value of errors and of message
		want         []string
		wantWarnings []string // with %s for the member's name
	}{
		{"absent", ``, nil, nil},
		{"null", `null`, nil, nil},
		{"string", `"No widgets"`, []string{"No widgets"}, nil},
		{"string kept as is", `"  spaced\tout  "`, []string{"  spaced\tout  "}, nil},
		{"empty string", `""`, nil, nil},
		{"empty array", `[]`, nil, nil},
		{"mixed", `["a", 1, 2.50, -3e2, true, false, null, "", {"x": [1, 2]}, [ "y" , 3 ], " "]`,
			[]string{"a", "1", "2.50", "-3e2", "true", "false", `{"x":[1,2]}`, `["y",3]`, " "}, nil},
		{"escapes", `["caf\u00e9 \"quoted\"", {"k":"\u00e9"}]`, []string{`café "quoted"`, `{"k":"\u00e9"}`}, nil},
		{"number", `42`, []string{"42"}, []string{"%s is a JSON number, not a string or an array; read as one message"}},
		{"boolean", `true`, []string{"true"}, []string{"%s is a JSON boolean, not a string or an array; read as one message"}},
		{"object", `{"code": 7, "text": "No"}`, []string{`{"code":7,"text":"No"}`}, []string{"%s is a JSON object, not a string or an array; read as one message"}},
		{"50 kept", mustJSON(t, fifty), fifty, nil},
		{"51 messages", string(fiftyOneJSON), fifty, []string{"%s: 1 message after the first 50 dropped"}},
		{"51 with empties", mustJSON(t, append([]any{nil, ""}, toAny(fiftyOne)...)), fifty, []string{"%s: 1 message after the first 50 dropped"}},
		{"long message", mustJSON(t, []string{long, "short"}), []string{long[:2000], "short"}, []string{"%s: 1 message longer than 2000 characters shortened"}},
		{"long string", mustJSON(t, long), []string{long[:2000]}, []string{"%s: 1 message longer than 2000 characters shortened"}},
		{"multi-byte cut", mustJSON(t, []string{multi}), []string{strings.Repeat("é", 1999) + "日"}, []string{"%s: 1 message longer than 2000 characters shortened"}},
		{"exactly 2000", mustJSON(t, strings.Repeat("日", 2000)), []string{strings.Repeat("日", 2000)}, nil},
	}
	for _, tt := range tests {
		for _, field := range []string{"errors", "message"} {
			t.Run(tt.name+"/"+field, func(t *testing.T) {
				body := `{"success":false}`
				if tt.member != "" {
					body = fmt.Sprintf(`{"success":false,%q:%s}`, field, tt.member)
				}
				a := Read(sub, 200, []byte(body))
				if a.Outcome != callout.OutcomeRejected {
					t.Fatalf("Outcome = %s, want rejected", a.Outcome)
				}
				got := a.Errors
				if field == "message" {
					got = a.Messages
				}
				if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s mismatch (-want +got):\n%s", field, diff)
				}
				var wantWarnings []string
				for _, w := range tt.wantWarnings {
					wantWarnings = append(wantWarnings, fmt.Sprintf(w, field))
				}
				if diff := cmp.Diff(wantWarnings, a.Warnings, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
				}
				for _, m := range got {
					if !utf8.ValidString(m) {
						t.Errorf("message %q is not valid UTF-8", m)
					}
				}
			})
		}
	}
}

func TestReadExternalID(t *testing.T) {
	long := strings.Repeat("A", MaxExternalIDLength)
	tests := []struct {
		name        string
		id          string // JSON text of the id member; "" for none
		want        string
		wantWarning string
	}{
		{"absent", ``, "", ""},
		{"string", `"MEL-123456"`, "MEL-123456", ""},
		{"string kept as is", `" 00123 "`, " 00123 ", ""},
		{"integer", `123456`, "123456", ""},
		{"exponent integer", `1.23456e5`, "123456", ""},
		{"exponent upper case", `1.23456E+5`, "123456", ""},
		{"big integer exact", `12345678901234567890123`, "12345678901234567890123", ""},
		{"exponent widens", `12e3`, "12000", ""},
		{"negative exponent integer", `1500e-2`, "15", ""},
		{"trailing zeros", `100.000`, "100", ""},
		{"negative", `-42`, "-42", ""},
		{"zero", `0`, "0", ""},
		{"negative zero", `-0.0`, "0", ""},
		{"fraction", `12.5`, "12.5", ""},
		{"small fraction", `1.5e-3`, "1.5e-3", ""},
		{"fraction via exponent", `1.2345e2`, "1.2345e2", ""},
		{"huge exponent", `1e999999999999`, "1e999999999999", ""},
		{"too many digits", `1e300`, "1e300", ""},
		{"null", `null`, "", ""},
		{"empty string", `""`, "", ""},
		{"255 characters", `"` + long + `"`, long, ""},
		{"256 characters", `"` + long + `B"`, "", "the id has 256 characters, more than 255; ignored"},
		{"true", `true`, "", "the id is a JSON boolean, not a string or a number; ignored"},
		{"object", `{"id":1}`, "", "the id is a JSON object, not a string or a number; ignored"},
		{"array", `["X"]`, "", "the id is a JSON array, not a string or a number; ignored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"success":true}`
			if tt.id != "" {
				body = `{"success":true,"id":` + tt.id + `}`
			}
			a := Read(sub, 200, []byte(body))
			if a.Outcome != callout.OutcomeAccepted {
				t.Fatalf("Outcome = %s, want accepted", a.Outcome)
			}
			if a.ExternalID != tt.want {
				t.Errorf("ExternalID = %q, want %q", a.ExternalID, tt.want)
			}
			var wantWarnings []string
			if tt.wantWarning != "" {
				wantWarnings = []string{tt.wantWarning}
			}
			if diff := cmp.Diff(wantWarnings, a.Warnings, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseCost(t *testing.T) {
	tests := []struct {
		raw    string
		want   json.Number
		wantOK bool
	}{
		{`332.96`, "332.96", true},
		{`1234.5600`, "1234.5600", true},
		{`0.1`, "0.1", true},
		{`-5`, "-5", true},
		{`0`, "0", true},
		{`1e3`, "1e3", true},
		{`1.5E-2`, "1.5E-2", true},
		{`123456789012345678901234567890.123456789`, "123456789012345678901234567890.123456789", true},
		{` 7 `, "7", true},
		{`"1234.56"`, "1234.56", true},
		{`"-5"`, "-5", true},
		{`"1e3"`, "1e3", true},
		{`"0.10"`, "0.10", true},
		{`"\u0031\u0032"`, "12", true},
		{`1e-400`, "1e-400", true}, // reads as 0, still a finite number
		{`1.7976931348623157e308`, "1.7976931348623157e308", true},
		{`-1.7976931348623157e308`, "-1.7976931348623157e308", true},

		{``, "", false},
		{`null`, "", false},
		{`true`, "", false},
		{`false`, "", false},
		{`"abc"`, "", false},
		{`""`, "", false},
		{`"NaN"`, "", false},
		{`"Infinity"`, "", false},
		{`NaN`, "", false},
		{`"+5"`, "", false},
		{`".5"`, "", false},
		{`"5."`, "", false},
		{`"05"`, "", false},
		{`" 5"`, "", false},
		{`"5 "`, "", false},
		{`"$5"`, "", false},
		{`"1,234.56"`, "", false},
		{`"1e"`, "", false},
		{`"-"`, "", false},
		{`"0x10"`, "", false},
		{`[1]`, "", false},
		{`{"amount":1}`, "", false},
		{`+5`, "", false},
		{`5 6`, "", false},
		{`"5`, "", false},
		// Beyond a float64's range: JavaScript would read Infinity.
		{`1e400`, "", false},
		{`-1e400`, "", false},
		{`"1e400"`, "", false},
		{`"-1e400"`, "", false},
		{`1.7976931348623159e308`, "", false},
		{`1E99999999999999999999`, "", false},
		{`1` + strings.Repeat("0", 400), "", false},
	}
	for _, tt := range tests {
		t.Run(callout.Truncate(tt.raw, 40), func(t *testing.T) {
			got, ok := ParseCost(json.RawMessage(tt.raw))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseCost(%s) = %q, %v; want %q, %v", tt.raw, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestReadCostExact checks that a cost survives Read and a JSON round trip
// exactly as the manufacturer wrote it.
func TestReadCostExact(t *testing.T) {
	for _, tt := range []struct{ cost, want string }{
		{`332.96`, `332.96`},
		{`"1234.56"`, `1234.56`},
		{`1234.5600`, `1234.5600`},
		{`1234.56`, `1234.56`},
		{`0.1`, `0.1`},
		{`12345678901234567.89`, `12345678901234567.89`},
	} {
		a := Read(price, 200, []byte(`{"cost":`+tt.cost+`}`))
		if a.Outcome != callout.OutcomeAccepted || string(a.Cost) != tt.want {
			t.Errorf("Read(cost %s) = %s, %q; want accepted, %q", tt.cost, a.Outcome, a.Cost, tt.want)
		}
		b, err := json.Marshal(callout.Pricing{Cost: a.Cost})
		if err != nil {
			t.Fatalf("marshalling cost %s: %v", tt.cost, err)
		}
		if want := `"cost":` + tt.want + `,`; !strings.Contains(string(b), want) {
			t.Errorf("cost %s marshals as %s, want it to contain %s", tt.cost, b, want)
		}
	}
}

// TestReadCostBeyondFloat checks that a pricing answer whose cost does not
// fit a float64 has no usable cost (docs/manufacturers.md), with a detail saying why.
func TestReadCostBeyondFloat(t *testing.T) {
	tests := []struct {
		cost   string
		detail string
	}{
		{`1e400`, "the pricing answer has no usable cost: cost 1e400 is beyond the range of a finite number (about ±1.8e308)"},
		{`-1e400`, "the pricing answer has no usable cost: cost -1e400 is beyond the range of a finite number (about ±1.8e308)"},
		{`"1e400"`, "the pricing answer has no usable cost: cost 1e400 is beyond the range of a finite number (about ±1.8e308)"},
		{`1` + strings.Repeat("0", 400), "the pricing answer has no usable cost: cost 1" + strings.Repeat("0", 38) + "… is beyond the range of a finite number (about ±1.8e308)"},
		{`"a lot"`, "the pricing answer has no usable cost: cost is a JSON string that does not hold a decimal number"},
	}
	for _, tt := range tests {
		t.Run(callout.Truncate(tt.cost, 20), func(t *testing.T) {
			a := Read(price, 200, []byte(`{"cost": `+tt.cost+`, "breakdown": [{"name": "a", "cost": 1}]}`))
			if a.Outcome != callout.OutcomeBadResponse || a.Detail != tt.detail {
				t.Errorf("Read = %s, %q; want bad_response, %q", a.Outcome, a.Detail, tt.detail)
			}
			if a.Cost != "" || len(a.Breakdown) != 0 {
				t.Errorf("Cost = %q, Breakdown = %v; want none", a.Cost, a.Breakdown)
			}
		})
	}
}

func TestReadLenient(t *testing.T) {
	const bom = "\xEF\xBB\xBF"
	tests := []struct {
		name string
		body string
		want Answer
	}{
		{"valid", `{"errors":["a"]}`, Answer{Errors: []string{"a"}}},
		{"bom", bom + `{"errors":["a"]}`, Answer{Errors: []string{"a"}, Warnings: []string{warnBOM}}},
		{"bom only", bom, Answer{Outcome: callout.OutcomeWebhookError, Warnings: []string{warnBOM}, Detail: "the body is not a JSON object with an errors member: the body is empty"}},
		{"bom and whitespace", bom + " \n", Answer{Outcome: callout.OutcomeWebhookError, Warnings: []string{warnBOM}, Detail: "the body is not a JSON object with an errors member: the body is empty"}},
		{"array comma", `{"errors":["a","b",]}`, Answer{Errors: []string{"a", "b"}, Warnings: []string{warnTrailingCommas}}},
		{"object comma", `{"errors":["a"],}`, Answer{Errors: []string{"a"}, Warnings: []string{warnTrailingCommas}}},
		{"whitespace before close", "{\"errors\":[\"a\" , \n\t ] , \r\n }", Answer{Errors: []string{"a"}, Warnings: []string{warnTrailingCommas}}},
		{"nested", `{"errors":[{"k":[1,2,],},[3,],],}`, Answer{Errors: []string{`{"k":[1,2]}`, `[3]`}, Warnings: []string{warnTrailingCommas}}},
		{"bom and comma", bom + `{"errors":["a",]}`, Answer{Errors: []string{"a"}, Warnings: []string{warnBOM, warnTrailingCommas}}},
		{"comma in string untouched", `{"errors":["a,]", "b,}",]}`, Answer{Errors: []string{"a,]", "b,}"}, Warnings: []string{warnTrailingCommas}}},
		{"comma in string, valid body", `{"errors":["a,]"]}`, Answer{Errors: []string{"a,]"}}},
		{"escaped quote before comma", `{"errors":["say \"x,]\"",]}`, Answer{Errors: []string{`say "x,]"`}, Warnings: []string{warnTrailingCommas}}},
		{"escaped backslash ends string", `{"errors":["a\\",]}`, Answer{Errors: []string{`a\`}, Warnings: []string{warnTrailingCommas}}},
		{"leading comma", `{"errors":[,"a"]}`, Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: the answer is not JSON: invalid character ',' looking for beginning of value (at byte 12)"}},
		{"lone comma", `{"errors":[,]}`, Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: the answer is not JSON: invalid character ',' looking for beginning of value (at byte 12)"}},
		{"double comma", `{"errors":["a",,]}`, Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: the answer is not JSON: invalid character ',' looking for beginning of value (at byte 16)"}},
		{"comma after colon", `{"errors":,}`, Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: the answer is not JSON: invalid character ',' looking for beginning of value (at byte 11)"}},
		{"comma and other fault", `{"errors":["a",], x}`, Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: the answer is not JSON: invalid character 'x' looking for beginning of object key string (at byte 19)"}},
		{"bom offset", bom + `{"errors":x}`, Answer{Outcome: callout.OutcomeWebhookError, Warnings: []string{warnBOM}, Detail: "the body is not a JSON object with an errors member: the answer is not JSON: invalid character 'x' looking for beginning of value (at byte 14)"}},
		{"two boms", bom + bom + `{}`, Answer{Outcome: callout.OutcomeWebhookError, Warnings: []string{warnBOM}, Detail: "the body is not a JSON object with an errors member: the answer is not JSON: invalid character 'ï' looking for beginning of value (at byte 4)"}},
		{"comment", `{"errors":["a"] /* x */}`, Answer{Outcome: callout.OutcomeWebhookError, Detail: "the body is not a JSON object with an errors member: the answer is not JSON: invalid character '/' after object key:value pair (at byte 17)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Status 500 shows both sides: with an errors member the body is
			// read (rejected), without it the detail says why.
			want := tt.want
			if want.Outcome == "" {
				want.Outcome = callout.OutcomeRejected
			}
			got := Read(sub, 500, []byte(tt.body))
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Read(%q) mismatch (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func TestReadBreakdown(t *testing.T) {
	// chain is a breakdown of depth nested single nodes named 1, 2, …
	chain := func(depth int) string {
		var b strings.Builder
		for i := 1; i <= depth; i++ {
			fmt.Fprintf(&b, `{"name":"%d","items":[`, i)
		}
		b.WriteString(strings.Repeat("]}", depth))
		return "[" + b.String() + "]"
	}
	wantChain := func(depth int) []callout.BreakdownNode {
		var n []callout.BreakdownNode = []callout.BreakdownNode{}
		for i := depth; i >= 1; i-- {
			n = []callout.BreakdownNode{{Name: fmt.Sprint(i), Items: n}}
		}
		return n
	}
	// flat is a breakdown of n sibling nodes.
	flat := func(n int) string {
		nodes := make([]string, n)
		for i := range nodes {
			nodes[i] = fmt.Sprintf(`{"name":"n%d"}`, i)
		}
		return "[" + strings.Join(nodes, ",") + "]"
	}
	wantFlat := func(n int) []callout.BreakdownNode {
		out := []callout.BreakdownNode{}
		for i := range n {
			out = append(out, leaf(fmt.Sprintf("n%d", i), ""))
		}
		return out
	}

	tests := []struct {
		name         string
		breakdown    string
		want         []callout.BreakdownNode
		wantWarnings []string
	}{
		{"seed example", `[
  {"name": "Subtotal", "cost": 123.45},
  {"name": "Discounts", "collapse": true, "items": [
    {"name": "Free freight", "cost": -100},
    {"name": "10% coupon", "cost": -12.34}
  ]}
]`, []callout.BreakdownNode{
			leaf("Subtotal", "123.45"),
			{Name: "Discounts", Collapse: true, Items: []callout.BreakdownNode{leaf("Free freight", "-100"), leaf("10% coupon", "-12.34")}},
		}, nil},
		{"single object", `{"name":"Tax","cost":"10.00"}`, []callout.BreakdownNode{leaf("Tax", "10.00")}, nil},
		{"single object items", `[{"name":"a","items":{"name":"b"}}]`, []callout.BreakdownNode{{Name: "a", Items: []callout.BreakdownNode{leaf("b", "")}}}, nil},
		{"null", `null`, []callout.BreakdownNode{}, nil},
		{"string", `"Tax 10"`, []callout.BreakdownNode{}, []string{"breakdown is a JSON string, not an array or an object; ignored"}},
		{"invalid nodes", `[1, "x", null, [], {}, {"name":""}, {"name":5}, {"Name":"x"}, {"name":"ok"}]`,
			[]callout.BreakdownNode{leaf("ok", "")},
			[]string{"breakdown: 8 nodes dropped: not an object with a non-empty string name"}},
		{"invalid child", `[{"name":"a","items":[{"cost":1},{"name":"b"}]}]`,
			[]callout.BreakdownNode{{Name: "a", Items: []callout.BreakdownNode{leaf("b", "")}}},
			[]string{"breakdown: 1 node dropped: not an object with a non-empty string name"}},
		{"costs beyond a float64", `[{"name":"a","cost":1e400},{"name":"b","cost":"-1e400"},{"name":"c","cost":1e308}]`,
			[]callout.BreakdownNode{leaf("a", ""), leaf("b", ""), leaf("c", "1e308")},
			[]string{"breakdown: 2 nodes kept without their unusable cost"}},
		{"costs", `[{"name":"a","cost":"abc"},{"name":"b","cost":null},{"name":"c","cost":true},{"name":"d","cost":"-1.50"}]`,
			[]callout.BreakdownNode{leaf("a", ""), leaf("b", ""), leaf("c", ""), leaf("d", "-1.50")},
			[]string{"breakdown: 2 nodes kept without their unusable cost"}},
		{"bad items", `[{"name":"a","items":"none"},{"name":"b","items":null}]`,
			[]callout.BreakdownNode{leaf("a", ""), leaf("b", "")},
			[]string{"breakdown: 1 node kept without their items, which were neither an array nor an object"}},
		{"extra members ignored", `[{"name":"a","colour":"red","cost":1}]`, []callout.BreakdownNode{leaf("a", "1")}, nil},
		{"depth 16", chain(16), wantChain(16), nil},
		{"depth 17", chain(17), wantChain(16), []string{"breakdown: 1 node dropped, with their items: nested deeper than 16 levels"}},
		{"depth 40", chain(40), wantChain(16), []string{"breakdown: 1 node dropped, with their items: nested deeper than 16 levels"}},
		{"1000 nodes", flat(1000), wantFlat(1000), nil},
		{"1001 nodes", flat(1001), wantFlat(1000), []string{"breakdown: 1 node dropped, with their items: more than 1000 nodes in all"}},
		{"1003 nodes", flat(1003), wantFlat(1000), []string{"breakdown: 3 nodes dropped, with their items: more than 1000 nodes in all"}},
		{"long name", `[{"name":"` + strings.Repeat("n", 2001) + `"}]`,
			[]callout.BreakdownNode{leaf(strings.Repeat("n", 2000), "")},
			[]string{"breakdown: 1 node with a name longer than 2000 characters shortened"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"cost":1,"breakdown":` + tt.breakdown + `}`
			a := Read(price, 200, []byte(body))
			if a.Outcome != callout.OutcomeAccepted {
				t.Fatalf("Outcome = %s (%s), want accepted", a.Outcome, a.Detail)
			}
			// cmp.Diff is slow on deep trees: only run it to explain a failure.
			if !reflect.DeepEqual(tt.want, a.Breakdown) {
				t.Errorf("Breakdown mismatch (-want +got):\n%s", cmp.Diff(tt.want, a.Breakdown))
			}
			if diff := cmp.Diff(tt.wantWarnings, a.Warnings, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadBreakdownLimitsInDepth checks that the node limit counts nodes at
// every level, in document order.
func TestReadBreakdownLimitsInDepth(t *testing.T) {
	// 10 parents of 100 children each: 1,010 nodes; the limit falls inside
	// the last parent.
	parents := make([]string, 10)
	for p := range parents {
		children := make([]string, 100)
		for c := range children {
			children[c] = fmt.Sprintf(`{"name":"%d.%d"}`, p, c)
		}
		parents[p] = fmt.Sprintf(`{"name":"%d","items":[%s]}`, p, strings.Join(children, ","))
	}
	a := Read(price, 200, []byte(`{"cost":1,"breakdown":[`+strings.Join(parents, ",")+`]}`))
	if got := countTree(a.Breakdown); got != MaxBreakdownNodes {
		t.Errorf("kept %d nodes, want %d", got, MaxBreakdownNodes)
	}
	last := a.Breakdown[len(a.Breakdown)-1]
	if last.Name != "9" || len(last.Items) != 90 || last.Items[89].Name != "9.89" {
		t.Errorf("last parent = %q with %d items, want \"9\" with 90 items ending in 9.89", last.Name, len(last.Items))
	}
	want := []string{"breakdown: 10 nodes dropped, with their items: more than 1000 nodes in all"}
	if diff := cmp.Diff(want, a.Warnings); diff != "" {
		t.Errorf("Warnings mismatch (-want +got):\n%s", diff)
	}
}

// TestReadHostile checks that bodies built to exhaust the reader are
// answered, not crashed on.
func TestReadHostile(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name        string
		kind        callout.Kind
		body        string
		wantOutcome callout.Outcome
	}{
		{"deep arrays", sub, `{"errors":` + strings.Repeat("[", mib/2) + strings.Repeat("]", mib/2) + `}`, callout.OutcomeBadResponse},
		{"deep breakdown", price, `{"cost":1,"breakdown":` + strings.Repeat(`{"name":"x","items":`, 9000) + `null` + strings.Repeat("}", 9000) + `}`, callout.OutcomeAccepted},
		{"many errors", sub, `{"success":false,"errors":[` + strings.Repeat(`"e",`, mib/4-4) + `"e"]}`, callout.OutcomeRejected},
		{"many commas", sub, `{"success":false,"errors":[` + strings.Repeat(`[1,],`, mib/5-8) + `0,]}`, callout.OutcomeRejected},
		{"huge exponent id", sub, `{"id":1e` + strings.Repeat("9", mib/2) + `}`, callout.OutcomeAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Read(tt.kind, 200, []byte(tt.body))
			if a.Outcome != tt.wantOutcome {
				t.Errorf("Outcome = %s (%s), want %s", a.Outcome, a.Detail, tt.wantOutcome)
			}
			checkInvariants(t, tt.kind, 200, a)
		})
	}
}

func FuzzRead(f *testing.F) {
	seeds := []string{
		"", "{}", "[]", "null", "\xEF\xBB\xBF{}", seedError, seedSubmission, seedPricing,
		`{"success":"FALSE","errors":["a",1,{"b":[2,]}],"message":"m"}`,
		`{"id":1.23456e5}`, `{"id":1e-400}`, `{"cost":"1e3","breakdown":{"name":"x","items":[{"name":"y","collapse":"0"}]}}`,
		`{"errors":["a,]",],}`, `{"a":1} x`, `<html>`, `{"errors":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
	}
	for _, s := range seeds {
		for _, status := range []int{200, 401, 500} {
			f.Add(true, status, []byte(s))
			f.Add(false, status, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, pricing bool, status int, body []byte) {
		kind := sub
		if pricing {
			kind = price
		}
		a := Read(kind, status, body)
		checkInvariants(t, kind, status, a)
	})
}

// checkInvariants checks what every caller of Read relies on, whatever the
// body.
func checkInvariants(t *testing.T, kind callout.Kind, status int, a Answer) {
	t.Helper()
	switch a.Outcome {
	case callout.OutcomeAccepted, callout.OutcomeRejected, callout.OutcomeWebhookError, callout.OutcomeBadResponse, callout.OutcomeAuthFailed:
	default:
		t.Fatalf("Outcome = %q, not an HTTP-level outcome", a.Outcome)
	}
	if (status == 401 || status == 403) != (a.Outcome == callout.OutcomeAuthFailed) {
		t.Errorf("status %d gave %s", status, a.Outcome)
	}
	if a.Outcome == callout.OutcomeAccepted && status != 200 {
		t.Errorf("status %d gave accepted", status)
	}
	if (a.Outcome == callout.OutcomeBadResponse || a.Outcome == callout.OutcomeWebhookError) && a.Detail == "" {
		t.Errorf("%s without a detail", a.Outcome)
	}
	for name, msgs := range map[string][]string{"errors": a.Errors, "message": a.Messages} {
		if len(msgs) > MaxMessages {
			t.Errorf("%d %s kept, want at most %d", len(msgs), name, MaxMessages)
		}
		for _, m := range msgs {
			if m == "" || utf8.RuneCountInString(m) > callout.MaxMessageLength {
				t.Errorf("%s holds a message of %d characters", name, utf8.RuneCountInString(m))
			}
		}
	}
	if utf8.RuneCountInString(a.ExternalID) > MaxExternalIDLength {
		t.Errorf("ExternalID has %d characters", utf8.RuneCountInString(a.ExternalID))
	}
	if a.Outcome == callout.OutcomeAccepted && kind == callout.KindPricing {
		if a.Breakdown == nil {
			t.Error("accepted pricing with a nil breakdown")
		}
		if _, ok := ParseCost(json.RawMessage(a.Cost)); !ok {
			t.Errorf("accepted pricing with cost %q", a.Cost)
		}
	} else if a.Cost != "" || a.Breakdown != nil {
		t.Errorf("%s %s carries cost %q and breakdown %v", kind, a.Outcome, a.Cost, a.Breakdown)
	}
	if n := countTree(a.Breakdown); n > MaxBreakdownNodes {
		t.Errorf("breakdown of %d nodes", n)
	}
	if d := depth(a.Breakdown); d > MaxBreakdownDepth {
		t.Errorf("breakdown %d levels deep", d)
	}
	if _, err := json.Marshal(a.Breakdown); err != nil {
		t.Errorf("the breakdown does not marshal: %v", err)
	}
}

func countTree(nodes []callout.BreakdownNode) int {
	n := len(nodes)
	for _, c := range nodes {
		n += countTree(c.Items)
	}
	return n
}

func depth(nodes []callout.BreakdownNode) int {
	d := 0
	for _, c := range nodes {
		if c.Items == nil {
			return 1 << 30 // a nil Items breaks the normalised shape
		}
		d = max(d, depth(c.Items))
	}
	if len(nodes) == 0 {
		return 0
	}
	return d + 1
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// BenchmarkReadPricing reads a typical accepted pricing answer, the hot path
// of every price.
func BenchmarkReadPricing(b *testing.B) {
	body := []byte(`{"success": true, "cost": 1234.56, "message": "10% first order discount applied",
		"breakdown": [{"name": "Discounts", "collapse": true, "items": [{"name": "10% First Order Discount", "cost": -123.46}]},
		{"name": "Cabinets", "cost": 1100.00}, {"name": "Freight", "cost": 50}, {"name": "Tax", "cost": 101.01}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if a := Read(callout.KindPricing, 200, body); a.Outcome != callout.OutcomeAccepted {
			b.Fatalf("Outcome = %s", a.Outcome)
		}
	}
}
