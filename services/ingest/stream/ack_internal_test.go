package stream

import "testing"

// TestParseAck: the hand reader takes only the usual form and leaves the rest,
// errors above all, to encoding/json.
func TestParseAck(t *testing.T) {
	for _, c := range []struct {
		in      string
		seq     uint64
		dup, ok bool
	}{
		{`{"stream":"EVENTS","seq":12}`, 12, false, true},
		{`{"stream":"EVENTS","seq":12,"duplicate":true}`, 12, true, true},
		{`{"stream":"EVENTS","domain":"hub","seq":7,"duplicate":false}`, 7, false, true},
		{`{"stream": "EVENTS","seq":12}`, 0, false, false},
		{`{"error":{"code":503,"err_code":10077,"description":"x"},"stream":"EVENTS","seq":0}`, 0, false, false},
		{`{"stream":"EVENTS","seq":0}`, 0, false, false},
		{`{"stream":"EVENTS"}`, 0, false, false},
		{`{"stream":"EV,\"x","seq":3}`, 0, false, false},
		{`{"stream":"EVENTS","seq":12,"batch":"b"}`, 0, false, false},
		{`{"stream":"EVENTS","seq":-1}`, 0, false, false},
		{``, 0, false, false},
	} {
		seq, dup, ok := parseAck([]byte(c.in))
		if seq != c.seq && c.ok || dup != c.dup && c.ok || ok != c.ok {
			t.Errorf("parseAck(%s) = %d, %v, %v; want %d, %v, %v", c.in, seq, dup, ok, c.seq, c.dup, c.ok)
		}
	}
}
