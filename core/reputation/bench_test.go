package reputation

import (
	"fmt"
	"testing"
	"time"
)

// benchMarket is a log of n deals between 50 sellers and n/4 buyers
// (established buyers with several sellers), every deal fulfilled, one in
// ten late.
func benchMarket(n int) []Fact {
	h := &history{}
	for i := range n {
		s := Party(fmt.Sprintf("seller%02d.example", i%50))
		b := Party(fmt.Sprintf("id:%064x", i%(n/4)))
		d := h.deal(s, b, int64(1000+i%9000), ms(float64(i)/100), ms(float64(i)/100+7))
		at := float64(i)/100 + 1
		if i%10 == 0 {
			at += 10
		}
		h.add(Fulfilled{h.ref(d, ms(at))})
	}
	return h.facts
}

// BenchmarkApply reads a log of 20,000 deals and their 20,000 FULFILLs
// into a Book (what a registry does once at start).
func BenchmarkApply(b *testing.B) {
	facts := benchMarket(20000)
	b.ReportAllocs()
	for b.Loop() {
		book := NewBook()
		for _, f := range facts {
			_ = book.Apply(f)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(facts)), "ns/fact")
}

// BenchmarkListingScore is what a discovery listing costs the registry
// per listed seller right after one of its deals: one new deal (and its
// on-time FULFILL) with a buyer, then the seller's score at the time of
// the listing, in a log of 100 or 10,000 deals. "oneoff": every buyer
// has one deal (unlinkable session keys, as in a full deal); "established":
// each buyer deals with several sellers, so each weighs as a counterparty
// and the score sums over them (the formula's Σ_c, docs/reputation.md
// §3.3). The book grows by one deal per iteration.
func BenchmarkListingScore(b *testing.B) {
	for _, shape := range []string{"oneoff", "established"} {
		for _, n := range []int{100, 10000} {
			b.Run(fmt.Sprintf("%s/deals=%d", shape, n), func(b *testing.B) {
				book, h := listingMarket(shape, n)
				const seller = Party("seller01.example")
				next := ms(float64(n)/100 + 1)
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					next += 1000
					buyer := Party(fmt.Sprintf("key:%064x", n+i))
					if shape == "established" {
						buyer = Party(fmt.Sprintf("id:%064x", i%(n/4+3)))
					}
					d := h.deal(seller, buyer, 2500, next, next+7*day)
					_ = book.Apply(h.facts[len(h.facts)-1])
					_ = book.Apply(Fulfilled{h.ref(d, next+1)})
					_ = book.Score(seller, time.UnixMilli(next+2))
				}
			})
		}
	}
}

// listingMarket is a book of n deals between 5 sellers and their buyers,
// one delivery in ten late, shaped as BenchmarkListingScore says.
func listingMarket(shape string, n int) (*Book, *history) {
	h := &history{}
	for i := range n {
		s := Party(fmt.Sprintf("seller%02d.example", i%5))
		b := Party(fmt.Sprintf("key:%064x", i))
		if shape == "established" {
			b = Party(fmt.Sprintf("id:%064x", i%(n/4+3)))
		}
		d := h.deal(s, b, int64(1000+i%9000), ms(float64(i)/100), ms(float64(i)/100+7))
		at := float64(i)/100 + 1
		if i%10 == 0 {
			at += 10
		}
		h.add(Fulfilled{h.ref(d, ms(at))})
	}
	book := NewBook()
	for _, f := range h.facts {
		_ = book.Apply(f)
	}
	return book, h
}

// BenchmarkReport is the whole report (every party and pair) of 20,000 deals.
func BenchmarkReport(b *testing.B) {
	book, now := benchBook()
	b.ReportAllocs()
	for b.Loop() {
		_ = book.Report(now)
	}
}

// benchBook is a book of 20,000 deals and the time to score it at.
func benchBook() (*Book, time.Time) {
	book := NewBook()
	for _, f := range benchMarket(20000) {
		_ = book.Apply(f)
	}
	return book, at(300)
}
