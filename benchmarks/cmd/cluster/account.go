package main

// Accounting of what each subscriber received against what the publisher
// was told: every event carries its topic's sequence number, each stream
// keeps the set of sequence numbers it received, and at the end the parent
// sends every topic's acknowledged and failed publishes so that each client
// process can count, per phase, what was lost, duplicated or delivered
// although its Publish reported an error.

// seqSet is a growable bitmap of non-negative sequence numbers.
type seqSet struct{ w []uint64 }

// add adds seq and reports whether it was new.
func (s *seqSet) add(seq int) bool {
	i := seq >> 6
	if i >= len(s.w) {
		s.w = append(s.w, make([]uint64, i+1-len(s.w)+len(s.w)/2)...)
	}
	bit := uint64(1) << (seq & 63)
	if s.w[i]&bit != 0 {
		return false
	}
	s.w[i] |= bit
	return true
}

// has reports whether seq was added.
func (s *seqSet) has(seq int) bool {
	i := seq >> 6
	return seq >= 0 && i < len(s.w) && s.w[i]&(1<<(seq&63)) != 0
}

// each calls f for every member, in increasing order.
func (s *seqSet) each(f func(int)) {
	for i, w := range s.w {
		for b := 0; w != 0 && b < 64; b++ {
			if w&(1<<b) != 0 {
				f(i<<6 | b)
				w &^= 1 << b
			}
		}
	}
}

// maxPhases bounds the phase numbers carried by events (0 is unused).
const maxPhases = 4

// tally is what verification found for one phase.
type tally struct {
	Expected      int64 `json:"expected"`       // (stream, acknowledged event of its topic) pairs
	Received      int64 `json:"received"`       // of those, received
	LostSilent    int64 `json:"lost_silent"`    // acknowledged, never received, and the stream got no reset signal
	LostSignalled int64 `json:"lost_signalled"` // acknowledged, never received, after a reset signal on that stream
	Duplicates    int64 `json:"duplicates"`     // events received again on a stream
	Unacked       int64 `json:"unacked"`        // received although their Publish returned an error (appended anyway)
	Phantom       int64 `json:"phantom"`        // received, never published at all
}

func (t *tally) addTally(o tally) {
	t.Expected += o.Expected
	t.Received += o.Received
	t.LostSilent += o.LostSilent
	t.LostSignalled += o.LostSignalled
	t.Duplicates += o.Duplicates
	t.Unacked += o.Unacked
	t.Phantom += o.Phantom
}

// published is one topic's publishes as the publisher saw them: each
// [seq, phase] pair.
type published struct {
	Acked  [][2]int `json:"acked"`
	Failed [][2]int `json:"failed"`
}

// verifyStream adds one stream's findings to out (indexed by phase): got is
// what it received, pub what its topic's publisher reported, reset whether
// it got the reset signal. Duplicates are counted on receipt, not here.
func verifyStream(got *seqSet, pub published, reset bool, out *[maxPhases]tally) {
	known := seqSet{}
	for _, a := range pub.Acked {
		seq, ph := a[0], a[1]
		if ph < 0 || ph >= maxPhases {
			continue
		}
		known.add(seq)
		out[ph].Expected++
		switch {
		case got.has(seq):
			out[ph].Received++
		case reset:
			out[ph].LostSignalled++
		default:
			out[ph].LostSilent++
		}
	}
	for _, f := range pub.Failed {
		seq, ph := f[0], f[1]
		if ph < 0 || ph >= maxPhases {
			continue
		}
		known.add(seq)
		if got.has(seq) {
			out[ph].Unacked++
		}
	}
	got.each(func(seq int) {
		if !known.has(seq) {
			out[0].Phantom++
		}
	})
}
