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

// BenchmarkSellerScore is one seller's score in a book of 20,000 deals,
// after a fact invalidated its sums (what a discovery after a new deal costs
// per listed seller).
func BenchmarkSellerScore(b *testing.B) {
	book, now := benchBook()
	b.ReportAllocs()
	for b.Loop() {
		delete(book.aggs, "seller07.example")
		_ = book.Score("seller07.example", now)
	}
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
