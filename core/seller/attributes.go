package seller

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Attributes are facts a seller states about its items and terms, by topic:
// "warranty", "delivery", "condition", "returns"… A buyer's QUERY is
// answered from them (Answer) before the policy is asked. Keys are lower
// case words; values are plain text the buyer reads as the seller's word.
type Attributes map[string]string

// Limits of Attributes.
const (
	MaxAttributes        = 16
	MaxAttributeKeyLen   = 32
	MaxAttributeValueLen = 300
)

// ErrBadAttribute names a seller attribute that cannot be used.
var ErrBadAttribute = errors.New("bad seller attribute")

// Validate checks the number of attributes, each key (1 to 32 lower-case
// letters, digits or _) and each value (1 to 300 bytes, not blank).
func (a Attributes) Validate() error {
	if len(a) > MaxAttributes {
		return fmt.Errorf("%w: %d attributes, at most %d", ErrBadAttribute, len(a), MaxAttributes)
	}
	for _, k := range a.keys() {
		if k == "" || len(k) > MaxAttributeKeyLen || strings.IndexFunc(k, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
		}) >= 0 {
			return fmt.Errorf("%w: key %q must be 1 to %d lower-case letters, digits or _", ErrBadAttribute, clipKey(k), MaxAttributeKeyLen)
		}
		if v := a[k]; strings.TrimSpace(v) == "" || len(v) > MaxAttributeValueLen {
			return fmt.Errorf("%w: %s must be 1 to %d bytes of text", ErrBadAttribute, k, MaxAttributeValueLen)
		}
	}
	return nil
}

// topicWords are the words of a question that ask about a topic, beyond the
// topic's own name.
var topicWords = map[string][]string{
	"warranty":   {"warrant", "guarantee", "guaranty"},
	"delivery":   {"deliver", "ship", "arrive", "dispatch", "when"},
	"shipping":   {"ship", "deliver", "postage", "freight"},
	"condition":  {"condition", "new", "used", "refurbish", "damage", "scratch"},
	"returns":    {"return", "refund", "exchange", "send back"},
	"payment":    {"pay", "invoice", "card"},
	"origin":     {"made", "origin", "country", "where"},
	"dimensions": {"size", "dimension", "big", "wide", "tall", "weigh"},
	"stock":      {"stock", "available", "availability", "how many"},
}

// Answer returns the attributes question asks about, one sentence each in
// key order, or "" when it asks about none of them.
func (a Attributes) Answer(question string) string {
	q := strings.ToLower(question)
	words := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) })
	var parts []string
	for _, k := range a.keys() {
		if asksAbout(q, words, k) {
			parts = append(parts, fmt.Sprintf("%s: %s", strings.ReplaceAll(k, "_", " "), strings.TrimSpace(a[k])))
		}
	}
	return strings.Join(parts, "\n")
}

// Topics lists the attribute keys, for an answer that found no topic.
func (a Attributes) Topics() string {
	return strings.ReplaceAll(strings.Join(a.keys(), ", "), "_", " ")
}

// asksAbout reports whether a question (lower case q, its words) asks about key.
func asksAbout(q string, words []string, key string) bool {
	cues := append([]string{strings.TrimSuffix(strings.ReplaceAll(key, "_", " "), "s")}, topicWords[key]...)
	for _, c := range cues {
		if strings.Contains(c, " ") {
			if strings.Contains(q, c) {
				return true
			}
			continue
		}
		for _, w := range words {
			if w == c || len(c) >= 4 && strings.HasPrefix(w, c) {
				return true
			}
		}
	}
	return false
}

func (a Attributes) keys() []string {
	ks := make([]string, 0, len(a))
	for k := range a {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func clipKey(k string) string {
	if len(k) > MaxAttributeKeyLen {
		return k[:MaxAttributeKeyLen] + "…"
	}
	return k
}
