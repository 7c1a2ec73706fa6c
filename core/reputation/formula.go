package reputation

import (
	"math"
	"time"
)

// The constants of formula v1 (docs/reputation.md §3). Scores are in
// [0, 100]; a party without history scores 100·Prior.
const (
	// Prior is the standing of a newcomer, in [0, 1].
	Prior = 0.5
	// HalfLife halves a party's earned mass for every HalfLife of
	// inactivity (counted from its last activity).
	HalfLife = 90 * 24 * time.Hour
	// PenaltyHalfLife halves the weight of a breach, lost dispute or late delivery every
	// PenaltyHalfLife after it was logged.
	PenaltyHalfLife = 365 * 24 * time.Hour
	// GrowthK shapes the logarithmic growth g(m) = ln(1+m) / (ln(1+m) + GrowthK).
	GrowthK = 3.0
	// NewcomerAllowance caps the mass a party earns from its deals whatever
	// the standing of its counterparties (the only mass fresh identities can give).
	NewcomerAllowance = 2.0
	// PairCap caps what one counterparty contributes to a party's base mass,
	// the figure that weighs the party as somebody else's counterparty.
	PairCap = 3.0
	// LostFactor multiplies the standing once per lost dispute (at full weight).
	LostFactor = 0.5
	// BreachFactor multiplies the standing once per breach (at full weight).
	BreachFactor = 0.6
	// LateFactor multiplies the standing once per late delivery (at full weight).
	LateFactor = 0.9
	// LateCredit is the credit of a delivery after the deadline.
	LateCredit = 0.5
	// SplitCredit multiplies the credit of a deal whose dispute was split.
	SplitCredit = 0.5
	// MaxValueBonus caps the value bonus of a deal: its weight is
	// 1 + min(MaxValueBonus, log10(1 + value in major units) / 2).
	MaxValueBonus = 2.0
)

// Millisecond forms of the half-lives, as the formula uses them.
const (
	halfLifeMs        = int64(HalfLife / time.Millisecond)
	penaltyHalfLifeMs = int64(PenaltyHalfLife / time.Millisecond)
)

// growth is g(m) = ln(1+m) / (ln(1+m) + GrowthK), in [0, 1).
func growth(m float64) float64 {
	l := math.Log1p(m)
	return l / (l + GrowthK)
}

// standing is (Prior + (1 − Prior)·g(m))·pen, in [0, 1).
func standing(m, pen float64) float64 {
	up := float64((1 - Prior) * growth(m))
	return float64((Prior + up) * pen)
}

// weight is a counterparty's weight from its standing: the part of it above
// the prior, scaled to [0, 1]; a newcomer and anyone below weigh 0.
func weight(std float64) float64 {
	return max(0, (std-Prior)/(1-Prior))
}

// decay is 2^(−(now − t)/halfLife), 1 when t is not before now.
func decay(now, t, halfLife int64) float64 {
	if t >= now {
		return 1
	}
	return math.Exp2(-float64(now-t) / float64(halfLife))
}

// valueWeight is 1 + min(MaxValueBonus, log10(1 + major)/2), where major is
// the amount in major units (float64(amount) / 10^scale).
func valueWeight(amount int64, scale int) float64 {
	major := float64(amount) / math.Pow10(scale)
	return 1 + min(MaxValueBonus, math.Log10(1+major)/2)
}

// round6 rounds x to 6 decimals, halves away from zero.
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }
