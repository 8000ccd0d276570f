package payload

import (
	"bytes"
	_ "embed" // for the sample documents
	"encoding/json"
)

// The sample documents are the example payload of seed 001 (the webhook
// contract), with only its trailing commas removed. They are copies of
// testdata/seed001 at the repository root, which go:embed cannot reach; a
// test keeps the two identical.
var (
	//go:embed sample/export.json
	sampleExport []byte
	//go:embed sample/job.json
	sampleJob []byte
	//go:embed sample/customer.json
	sampleCustomer []byte
)

// Sample returns the export, job and customer documents of the webhook
// contract's example payload, for testing a webhook without a stored job and
// for the demo. Each call returns fresh copies, which the caller may keep or
// modify.
func Sample() (export, job, customer json.RawMessage) {
	return bytes.Clone(sampleExport), bytes.Clone(sampleJob), bytes.Clone(sampleCustomer)
}
