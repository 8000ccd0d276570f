package answer_test

import (
	"fmt"

	"github.com/callout/callout"
	"github.com/callout/callout/answer"
)

func ExampleRead() {
	// A pricing answer as seed 001 prints them, trailing comma included.
	body := []byte(`{
		"cost": 1234.56,
		"message": "10% first order discount applied",
		"breakdown": [{"name": "Tax", "cost": 123.46},]
	}`)
	a := answer.Read(callout.KindPricing, 200, body)
	fmt.Println(a.Outcome, a.Cost, a.Messages)
	fmt.Println(a.Breakdown[0].Name, a.Breakdown[0].Cost)
	fmt.Println(a.Warnings)

	a = answer.Read(callout.KindSubmission, 422, []byte(`{"errors": ["No Widgets", 42]}`))
	fmt.Println(a.Outcome, a.Errors)
	// Output:
	// accepted 1234.56 [10% first order discount applied]
	// Tax 123.46
	// [the answer has trailing commas]
	// rejected [No Widgets 42]
}
