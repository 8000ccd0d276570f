package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/callout/callout"
)

// delivery returns a delivery with every field set.
func delivery(m, id string, started time.Time) *callout.Delivery {
	return &callout.Delivery{
		ID: id, ManufacturerID: m, Kind: callout.KindSubmission, JobID: "j1", RequestID: "req-" + id,
		Test: false, URL: "https://erp.example.com/hooks/submit",
		StartedAt: started, FinishedAt: started.Add(1500 * time.Microsecond), DurationMS: 1.5,
		Attempts: 1, HTTPStatus: 200, Outcome: callout.OutcomeAccepted,
		Warnings: []string{"unknown member \"extra\""}, ErrorDetail: "", Messages: []string{"Order #1"},
		ExternalID: "JPS-1", Cost: "", ResponseBody: `{"submitted": true}`,
	}
}

func testDeliveries(t *testing.T, open opener) {
	e := newEnv(t, open)
	wantCode(t, e.InsertDelivery(e.ctx, delivery("103", "d1", start)), callout.ECodeNotFound)
	e.manufacturer(t, "103")

	full := &callout.Delivery{
		ID: "d1", ManufacturerID: "103", Kind: callout.KindPricing, JobID: "338167", RequestID: "req-1",
		Test: true, URL: "https://erp.example.com/price",
		StartedAt: start, FinishedAt: start.Add(2 * time.Second), DurationMS: 2000.125,
		Attempts: 2, HTTPStatus: 502, Outcome: callout.OutcomeWebhookError,
		Warnings: []string{"a", "b"}, ErrorDetail: "status 502", Messages: []string{"Try later"},
		ExternalID: "X-9", Cost: "12.500", ResponseBody: "<html>\xff\xfe bad gateway</html>",
	}
	if err := e.InsertDelivery(e.ctx, full); err != nil {
		t.Fatalf("InsertDelivery: %v", err)
	}
	got, err := e.GetDelivery(e.ctx, "103", "d1")
	if err != nil {
		t.Fatalf("GetDelivery: %v", err)
	}
	want := *full
	want.StartedAt, want.FinishedAt = utc(full.StartedAt), utc(full.FinishedAt)
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("GetDelivery (-want +got):\n%s", diff)
	}
	if err := e.InsertDelivery(e.ctx, full); err == nil {
		t.Errorf("InsertDelivery of a duplicate id: no error")
	}

	// Nil lists come back empty; text a database cannot hold is replaced.
	bare := &callout.Delivery{ID: "d2", ManufacturerID: "103", Kind: callout.KindSubmission, StartedAt: start,
		FinishedAt: start, Outcome: callout.OutcomeTimeout, ErrorDetail: "bad\x00byte \xff"}
	if err := e.InsertDelivery(e.ctx, bare); err != nil {
		t.Fatalf("InsertDelivery: %v", err)
	}
	got, err = e.GetDelivery(e.ctx, "103", "d2")
	if err != nil {
		t.Fatalf("GetDelivery: %v", err)
	}
	if got.Warnings == nil || got.Messages == nil || len(got.Warnings)+len(got.Messages) != 0 {
		t.Errorf("warnings %#v, messages %#v; want empty, not nil", got.Warnings, got.Messages)
	}
	if want := "bad\uFFFDbyte \uFFFD"; got.ErrorDetail != want {
		t.Errorf("error detail = %q, want %q", got.ErrorDetail, want)
	}
	_, err = e.GetDelivery(e.ctx, "103", "d3")
	wantCode(t, err, callout.ECodeNotFound)
}

// pages lists every page of f, each of which must hold pageSize deliveries
// (the last at most that many), and returns the ids in order.
func pages(t *testing.T, e *env, f callout.DeliveryFilter, pageSize int) []string {
	t.Helper()
	var ids []string
	for range 1000 {
		page, next, err := e.ListDeliveries(e.ctx, f)
		if err != nil {
			t.Fatalf("ListDeliveries(%+v): %v", f, err)
		}
		if len(page) > pageSize || next != "" && len(page) != pageSize {
			t.Fatalf("a page holds %d deliveries (next cursor %q), want %d", len(page), next, pageSize)
		}
		for _, d := range page {
			ids = append(ids, d.ID)
		}
		if next == "" {
			return ids
		}
		f.Cursor = next
	}
	t.Fatalf("ListDeliveries never reached the last page")
	return nil
}

func testDeliveryPages(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.manufacturer(t, "103")
	e.manufacturer(t, "104")
	const n = 205
	all := make([]*callout.Delivery, n)
	for i := range n {
		// Three deliveries share each start time, so the id breaks ties.
		d := delivery("103", fmt.Sprintf("d%03d", (i*7)%n), start.Add(time.Duration(i/3)*time.Second))
		d.Kind = []callout.Kind{callout.KindSubmission, callout.KindPricing}[i%2]
		d.JobID = fmt.Sprintf("j%d", i%3)
		if i%4 == 0 {
			d.Outcome = callout.OutcomeRejected
		}
		all[i] = d
		if err := e.InsertDelivery(e.ctx, d); err != nil {
			t.Fatalf("InsertDelivery: %v", err)
		}
	}
	if err := e.InsertDelivery(e.ctx, delivery("104", "other", start.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	newestFirst := slices.Clone(all)
	slices.SortFunc(newestFirst, func(a, b *callout.Delivery) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	expect := func(keep func(*callout.Delivery) bool) []string {
		var ids []string
		for _, d := range newestFirst {
			if keep(d) {
				ids = append(ids, d.ID)
			}
		}
		return ids
	}
	every := func(*callout.Delivery) bool { return true }

	tests := []struct {
		name     string
		f        callout.DeliveryFilter
		pageSize int
		want     []string
	}{
		{"all, pages of 7", callout.DeliveryFilter{Limit: 7}, 7, expect(every)},
		{"all, default limit", callout.DeliveryFilter{}, 50, expect(every)},
		{"all, limit capped", callout.DeliveryFilter{Limit: 1000}, 200, expect(every)},
		{"kind", callout.DeliveryFilter{Kind: callout.KindPricing, Limit: 10}, 10,
			expect(func(d *callout.Delivery) bool { return d.Kind == callout.KindPricing })},
		{"job", callout.DeliveryFilter{JobID: "j1", Limit: 9}, 9,
			expect(func(d *callout.Delivery) bool { return d.JobID == "j1" })},
		{"outcome", callout.DeliveryFilter{Outcome: callout.OutcomeRejected, Limit: 4}, 4,
			expect(func(d *callout.Delivery) bool { return d.Outcome == callout.OutcomeRejected })},
		{"kind, job and outcome", callout.DeliveryFilter{Kind: callout.KindSubmission, JobID: "j0", Outcome: callout.OutcomeRejected, Limit: 2}, 2,
			expect(func(d *callout.Delivery) bool {
				return d.Kind == callout.KindSubmission && d.JobID == "j0" && d.Outcome == callout.OutcomeRejected
			})},
		{"no match", callout.DeliveryFilter{JobID: "none"}, 50, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.ManufacturerID = "103"
			if diff := cmp.Diff(tt.want, pages(t, e, tt.f, tt.pageSize)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("first page", func(t *testing.T) {
		page, next, err := e.ListDeliveries(e.ctx, callout.DeliveryFilter{ManufacturerID: "103", Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		want := newestFirst[0]
		if len(page) != 2 || next == "" {
			t.Fatalf("first page: %d deliveries, next %q; want 2 and a cursor", len(page), next)
		}
		if diff := cmp.Diff(want.ID, page[0].ID); diff != "" {
			t.Errorf("newest delivery (-want +got):\n%s", diff)
		}
	})

	for _, cursor := range []string{"!!", base64.RawURLEncoding.EncodeToString([]byte("abc")),
		base64.RawURLEncoding.EncodeToString([]byte("123.")), base64.RawURLEncoding.EncodeToString([]byte("x.d001"))} {
		_, _, err := e.ListDeliveries(e.ctx, callout.DeliveryFilter{ManufacturerID: "103", Cursor: cursor})
		var ce *callout.Error
		if !errors.As(err, &ce) || ce.Code != callout.ECodeInvalid || len(ce.Fields) != 1 || ce.Fields[0].Field != "cursor" {
			t.Errorf("cursor %q: error %v, want validation_failed on cursor", cursor, err)
		}
	}
}

func testPruneDeliveries(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.manufacturer(t, "103")
	e.manufacturer(t, "104")
	cutoff := start.Add(-30 * 24 * time.Hour)
	var keep []string
	for i := range 25 {
		m := []string{"103", "104"}[i%2]
		if err := e.InsertDelivery(e.ctx, delivery(m, fmt.Sprintf("old%02d", i), cutoff.Add(-time.Duration(i+1)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		id := fmt.Sprintf("new%02d", i)
		// The cutoff itself is kept: only older deliveries go.
		if err := e.InsertDelivery(e.ctx, delivery("103", id, cutoff.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
		keep = append([]string{id}, keep...)
	}
	n, err := e.PruneDeliveries(e.ctx, cutoff, 10)
	if err != nil || n != 25 {
		t.Fatalf("PruneDeliveries = %d, %v; want 25", n, err)
	}
	if diff := cmp.Diff(keep, pages(t, e, callout.DeliveryFilter{ManufacturerID: "103"}, 50)); diff != "" {
		t.Errorf("deliveries left (-want +got):\n%s", diff)
	}
	if got := pages(t, e, callout.DeliveryFilter{ManufacturerID: "104"}, 50); len(got) != 0 {
		t.Errorf("deliveries of 104 left: %v", got)
	}
	if n, err := e.PruneDeliveries(e.ctx, cutoff, 10); err != nil || n != 0 {
		t.Errorf("second PruneDeliveries = %d, %v; want 0", n, err)
	}
	// A batch size that divides the count exactly ends too.
	if n, err := e.PruneDeliveries(e.ctx, cutoff.Add(5*time.Minute), 1); err != nil || n != 5 {
		t.Errorf("PruneDeliveries with batch 1 = %d, %v; want 5", n, err)
	}
}

// testConcurrentDeliveriesFailAlone records many prices and deliveries at
// once, a third of them failing (a delivery of no such manufacturer): each
// failure is reported to its own caller alone, even where PostgreSQL groups
// concurrent prices and deliveries into one transaction, and every other
// write is kept.
func testConcurrentDeliveriesFailAlone(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.jobWithCustomer(t, "103", "j0")
	const n = 60
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("d%d", i)
			switch i % 3 {
			case 0:
				errs[i] = e.SavePricing(e.ctx, "103", "j0", &callout.Pricing{Cost: json.Number(fmt.Sprint(i)), Revision: 1}, delivery("103", id, start))
			case 1:
				errs[i] = e.InsertDelivery(e.ctx, delivery("nope", id, start))
			case 2:
				errs[i] = e.InsertDelivery(e.ctx, delivery("103", id, start))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		id := fmt.Sprintf("d%d", i)
		if i%3 == 1 {
			wantCode(t, err, callout.ECodeNotFound)
			continue
		}
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		} else if _, err := e.GetDelivery(e.ctx, "103", id); err != nil {
			t.Errorf("delivery %s was reported stored but reads %v", id, err)
		}
	}
	j, err := e.GetJob(e.ctx, "103", "j0")
	if err != nil || j.Pricing == nil {
		t.Errorf("job after the prices: pricing %v, %v; want one of them", j.Pricing, err)
	}
}
