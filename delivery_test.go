package callout_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/callout/callout"
)

func TestDeliveryJSON(t *testing.T) {
	tests := []struct {
		name string
		d    callout.Delivery
		want []string
	}{
		{"a test price", callout.Delivery{ID: "d1", Kind: callout.KindPricing, Cost: "1234.56"},
			[]string{`"job_id":null`, `"cost":1234.56`, `"external_id":null`}},
		{"a submission", callout.Delivery{ID: "d2", Kind: callout.KindSubmission, JobID: "338167", ExternalID: "JPS-990495"},
			[]string{`"job_id":"338167"`, `"cost":null`, `"external_id":"JPS-990495"`}},
		{"an answer with markup", callout.Delivery{ID: "d3", Kind: callout.KindSubmission, Messages: []string{"<b>Credit & terms</b>"}, ResponseBody: `<html>`},
			[]string{`"messages":["<b>Credit & terms</b>"]`, `"response_body":"<html>"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As the API encodes every answer.
			data, err := callout.MarshalJSON(&tt.d)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !strings.Contains(string(data), want) {
					t.Errorf("got %s, want it to contain %s", data, want)
				}
			}
			if n := strings.Count(string(data), `"cost"`); n != 1 {
				t.Errorf("got %d cost members in %s, want 1", n, data)
			}
			var back callout.Delivery
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tt.d) {
				t.Errorf("read back %+v, want %+v", back, tt.d)
			}
		})
	}
}
